import CBerthPlugin

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plugin library opened with `dlopen`, its descriptor checked.
///
/// Libraries are opened with `RTLD_NOW | RTLD_LOCAL` and never closed: unloading a library
/// that holds Swift code leaves dangling pointers to its metadata.
public final class LoadedPlugin: Sendable {
    /// The file it was loaded from.
    public let file: String
    /// The backend name (`docker`).
    public let name: String
    /// The plugin's version.
    public let version: String
    /// The ABI version it was built against.
    public let abiVersion: UInt32
    /// The JSON Schema of its host settings.
    public let settingsSchema: JSONValue
    let descriptor: DescriptorPointer
    /// The plugin's descriptor, copied as far as its `struct_size` goes and zero beyond: the
    /// functions appended after the plugin was built are NULL, so they read as "not offered".
    let table: DescriptorTable

    private init(file: String, descriptor: DescriptorPointer, size: Int) throws(PluginLoadError) {
        var copy = berth_plugin_v1_t()
        withUnsafeMutableBytes(of: &copy) { target in
            target.copyMemory(from: UnsafeRawBufferPointer(start: UnsafeRawPointer(descriptor.pointer), count: min(size, target.count)))
        }
        let table = copy
        self.table = DescriptorTable(table: copy)
        guard let name = table.name.map({ String(cString: $0) }), !name.isEmpty else {
            throw PluginLoadError(.invalidDescriptor, file: file, "descriptor has no name")
        }
        guard let version = table.version.map({ String(cString: $0) }) else {
            throw PluginLoadError(.invalidDescriptor, file: file, "descriptor of '\(name)' has no version")
        }
        guard let schemaText = table.settings_schema.map({ String(cString: $0) }) else {
            throw PluginLoadError(.invalidDescriptor, file: file, "descriptor of '\(name)' has no settings schema")
        }
        do {
            self.settingsSchema = try JSONValue(parsing: schemaText)
        } catch {
            throw PluginLoadError(.invalidDescriptor, file: file, "settings schema of '\(name)' is not JSON: \(error)")
        }
        let missing = Self.missingFunctions(table)
        guard missing.isEmpty else {
            throw PluginLoadError(
                .invalidDescriptor, file: file,
                "descriptor of '\(name)' lacks functions: \(missing.joined(separator: ", "))")
        }
        self.file = file
        self.name = name
        self.version = version
        self.abiVersion = table.abi_version
        self.descriptor = descriptor
    }

    private static func missingFunctions(_ table: berth_plugin_v1_t) -> [String] {
        let present: [(String, Bool)] = [
            ("open", table.open != nil), ("close", table.close != nil), ("health", table.health != nil),
            ("capacity", table.capacity != nil), ("start", table.start != nil),
            ("inspect", table.inspect != nil), ("stop", table.stop != nil), ("remove", table.remove != nil),
            ("list", table.list != nil), ("logs", table.logs != nil), ("events", table.events != nil),
            ("stream_cancel", table.stream_cancel != nil), ("stream_release", table.stream_release != nil),
        ]
        return present.filter { !$0.1 }.map(\.0)
    }

    /// Loads the plugin in `file` and checks its descriptor.
    /// - Throws: ``PluginLoadError`` naming the file and the exact cause.
    public static func load(file: String) throws(PluginLoadError) -> LoadedPlugin {
        guard let library = dlopen(file, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
            let notLibrary = ["invalid ELF header", "file too short", "wrong ELF class", "not a dynamic"]
                .contains { reason.contains($0) }
            throw PluginLoadError(
                notLibrary ? .notSharedLibrary : .openFailed, file: file,
                notLibrary ? "not a shared library (\(reason))" : "cannot be opened: \(reason)")
        }
        guard let symbol = dlsym(library, BERTH_PLUGIN_ENTRY_SYMBOL) else {
            throw PluginLoadError(
                .missingEntry, file: file, "does not export \(BERTH_PLUGIN_ENTRY_SYMBOL)")
        }
        typealias Entry = @convention(c) () -> UnsafePointer<berth_plugin_v1_t>?
        let entry = unsafeBitCast(symbol, to: Entry.self)
        guard let descriptor = entry() else {
            throw PluginLoadError(.invalidDescriptor, file: file, "\(BERTH_PLUGIN_ENTRY_SYMBOL)() returned NULL")
        }
        // Read the two leading fields first: they are all a descriptor of any version shares.
        let header = UnsafeRawPointer(descriptor)
        let abiVersion = header.load(as: UInt32.self)
        let structSize = header.load(fromByteOffset: 4, as: UInt32.self)
        guard abiVersion == BERTH_PLUGIN_ABI_VERSION else {
            throw PluginLoadError(
                .unknownABIVersion, file: file,
                "ABI version mismatch: plugin is version \(abiVersion), host wants version \(BERTH_PLUGIN_ABI_VERSION)")
        }
        // Every function up to `stream_release` is required; later ones were appended and are
        // optional, so a plugin built against an older header still loads.
        let needed = MemoryLayout<berth_plugin_v1_t>.offset(of: \berth_plugin_v1_t.collect)!
        guard Int(structSize) >= needed else {
            throw PluginLoadError(
                .structTooSmall, file: file,
                "descriptor is \(structSize) bytes, host needs at least \(needed) for ABI version \(abiVersion)")
        }
        return try LoadedPlugin(file: file, descriptor: DescriptorPointer(pointer: descriptor), size: Int(structSize))
    }

    /// Opens one instance for a target host.
    /// - Parameters:
    ///   - settings: the host's settings object from configuration.
    ///   - host: the target host's name (added to the settings as `host`).
    ///   - server: the Berth server id (added as `server`).
    ///   - observer: told of every call the instance makes (for metrics), if given.
    public func open(
        settings: JSONValue, host: String, server: String, observer: PluginInstance.CallObserver? = nil
    ) async throws(PluginError) -> PluginInstance {
        var members = settings.objectValue ?? [:]
        members["host"] = .string(host)
        members["server"] = .string(server)
        let (descriptor, open) = (self.descriptor, table.table.open!)
        let (status, instance, body) = await PluginCall.open { context, done in
            Payload.withBytes(.object(members)) { bytes, length in
                open(descriptor.pointer, bytes, length, context, done)
            }
        }
        guard status == BERTH_STATUS_OK, let instance else {
            throw PluginCall.error(from: body, plugin: name)
        }
        return PluginInstance(plugin: self, host: host, instance: InstancePointer(pointer: instance), observer: observer)
    }
}

/// A copy of a plugin's descriptor. `@unchecked Sendable`: it is never written after it is
/// made, and holds only pointers to the plugin's constant strings and to its functions, which
/// the ABI allows to be called from any thread.
struct DescriptorTable: @unchecked Sendable {
    let table: berth_plugin_v1_t
}

/// A descriptor, which the plugin keeps constant for the life of the process.
/// `@unchecked Sendable`: it is only read, and the memory is never freed.
struct DescriptorPointer: @unchecked Sendable {
    let pointer: UnsafePointer<berth_plugin_v1_t>
}

/// An opened instance. `@unchecked Sendable`: the pointer is opaque and only handed back to the
/// plugin, whose functions the ABI allows to be called from any thread, concurrently.
struct InstancePointer: @unchecked Sendable {
    let pointer: OpaquePointer
}
