import CBerthPlugin
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns a Swift ``BackendPlugin`` into the C descriptor the host loads.
///
/// A plugin written in Swift exports itself with one declaration:
///
/// ```swift
/// @_cdecl("berth_plugin_v1")
/// public func berthPluginV1() -> UnsafeRawPointer { PluginExport.descriptor(for: DockerBackend.self) }
/// ```
public enum PluginExport {
    /// The descriptors made so far, by plugin type; each is made once and lives forever.
    private static let descriptors = Mutex<[ObjectIdentifier: DescriptorAddress]>([:])

    /// The process-lifetime descriptor for `plugin`, made on first use.
    public static func descriptor<Plugin: BackendPlugin>(for plugin: Plugin.Type) -> UnsafeRawPointer {
        descriptors.withLock { made in
            if let existing = made[ObjectIdentifier(plugin)] { return existing.pointer }
            let address = DescriptorAddress(pointer: UnsafeRawPointer(makeDescriptor(for: plugin)))
            made[ObjectIdentifier(plugin)] = address
            return address.pointer
        }
    }

    private static func makeDescriptor<Plugin: BackendPlugin>(
        for plugin: Plugin.Type
    ) -> UnsafeMutablePointer<berth_plugin_v1_t> {
        let descriptor = UnsafeMutablePointer<berth_plugin_v1_t>.allocate(capacity: 1)
        let opener = PluginOpener { (settings: PluginSettings) async throws(PluginError) -> any Backend in
            try await Plugin.open(settings)
        }
        descriptor.initialize(
            to: berth_plugin_v1_t(
                abi_version: BERTH_PLUGIN_ABI_VERSION,
                struct_size: UInt32(MemoryLayout<berth_plugin_v1_t>.size),
                // Never freed: the descriptor lives as long as the process.
                name: UnsafePointer(strdup(Plugin.name)),
                version: UnsafePointer(strdup(Plugin.version)),
                settings_schema: UnsafePointer(strdup(Plugin.settingsSchema.jsonText)),
                plugin_data: Unmanaged.passRetained(opener).toOpaque(),
                open: ExportThunks.open,
                close: ExportThunks.close,
                health: ExportThunks.health,
                capacity: ExportThunks.capacity,
                start: ExportThunks.start,
                inspect: ExportThunks.inspect,
                stop: ExportThunks.stop,
                remove: ExportThunks.remove,
                list: ExportThunks.list,
                logs: ExportThunks.logs,
                events: ExportThunks.events,
                stream_cancel: ExportThunks.streamCancel,
                stream_release: ExportThunks.streamRelease,
                collect: ExportThunks.collect
            ))
        return descriptor
    }
}

/// The address of a descriptor that is never freed or written after it is made, so sharing it
/// between threads is safe.
private struct DescriptorAddress: @unchecked Sendable {
    let pointer: UnsafeRawPointer
}

/// Opens instances of one plugin type; kept in the descriptor's `plugin_data`.
final class PluginOpener: Sendable {
    let open: @Sendable (PluginSettings) async throws(PluginError) -> any Backend

    init(open: @escaping @Sendable (PluginSettings) async throws(PluginError) -> any Backend) {
        self.open = open
    }
}

/// One opened instance, behind the ABI's opaque `berth_instance_t *`.
final class ExportedInstance: Sendable {
    let backend: any Backend

    init(backend: any Backend) {
        self.backend = backend
    }
}
