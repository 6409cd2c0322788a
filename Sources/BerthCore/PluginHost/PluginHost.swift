public import BerthPluginKit
public import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Loads the backend plugins and opens one instance per configured target host.
///
/// Every `lib*.so` in the plugin folders is loaded and its descriptor checked; each host's
/// settings are validated against its plugin's schema and then opened. A broken plugin or a
/// bad host is recorded with the file and the cause, and never stops the others.
public actor PluginHost {
    /// The outcome of loading one file.
    public struct PluginRecord: Sendable {
        /// The file.
        public var file: String
        /// The loaded plugin, or why it did not load.
        public var result: Result<LoadedPlugin, PluginHostError>
    }

    /// The outcome of opening one target host.
    public struct HostRecord: Sendable {
        /// The host's configuration.
        public var configuration: TargetHostConfiguration
        /// The open instance, or why it is not open.
        public var result: Result<PluginInstance, PluginHostError>
    }

    private enum State {
        case idle
        case starting
        case running
        case shutDown
    }

    /// The hosts, plugin folders and server id this host was made with.
    public nonisolated let configuration: PluginHostConfiguration
    private let logger: Logger
    private var state = State.idle
    /// Every file examined, in load order.
    public private(set) var plugins: [PluginRecord] = []
    /// Every configured host, in configuration order.
    public private(set) var hosts: [HostRecord] = []

    /// A plugin host for `configuration`.
    public init(configuration: PluginHostConfiguration, logger: Logger = Logger(label: "berth.plugins")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The folder that holds the running binary: the default plugin folder.
    public static var executableFolder: String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, Int(PATH_MAX))
        guard length > 0 else { return "." }
        let path = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
    }

    /// Loads every plugin and opens every host. Call once.
    public func start() async {
        precondition(state == .idle, "PluginHost.start() called twice")
        state = .starting
        let folders = configuration.pluginFolders.isEmpty ? [Self.executableFolder] : configuration.pluginFolders
        plugins = Self.loadPlugins(in: folders, logger: logger)
        var opened: [HostRecord] = []
        for host in configuration.hosts {
            opened.append(HostRecord(configuration: host, result: await open(host)))
        }
        guard state == .starting else {
            // Shut down while opening: close what was just opened.
            for case .success(let instance) in opened.map(\.result) { await instance.close() }
            return
        }
        hosts = opened
        state = .running
    }

    /// The open instance serving `host`.
    /// - Throws: ``PluginHostError`` when no such host is configured or it failed to open.
    public func backend(forHost host: String) throws(PluginHostError) -> PluginInstance {
        guard let record = hosts.first(where: { $0.configuration.name == host }) else {
            throw PluginHostError(.unknownHost, host: host, "no target host named '\(host)' is configured")
        }
        return try record.result.get()
    }

    /// The loaded plugin named `name`, if any.
    public func plugin(named name: String) -> LoadedPlugin? {
        plugins.lazy.compactMap { try? $0.result.get() }.first { $0.name == name }
    }

    /// Closes every open instance. The libraries stay loaded.
    public func shutdown() async {
        guard state != .shutDown else { return }
        state = .shutDown
        let open = hosts.compactMap { try? $0.result.get() }
        hosts = []
        for instance in open {
            await instance.close()
            logger.info("closed host", metadata: ["host": "\(instance.host)"])
        }
    }

    private func open(_ host: TargetHostConfiguration) async -> Result<PluginInstance, PluginHostError> {
        let metadata: Logger.Metadata = ["host": "\(host.name)", "plugin": "\(host.plugin)"]
        guard let plugin = plugin(named: host.plugin) else {
            let available = plugins.compactMap { try? $0.result.get().name }.sorted()
            let error = PluginHostError(
                .unknownPlugin, host: host.name,
                "no loaded plugin is named '\(host.plugin)' (loaded: \(available.isEmpty ? "none" : available.joined(separator: ", ")))")
            logger.error("host not opened", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return .failure(error)
        }
        let violations = SettingsSchema(plugin.settingsSchema).violations(of: host.settings)
        guard violations.isEmpty else {
            let error = PluginHostError(
                .settingsRejected, host: host.name, file: plugin.file,
                "settings rejected: \(violations.joined(separator: "; "))")
            logger.error("host not opened", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            return .failure(error)
        }
        do {
            let name = host.name
            let instance = try await plugin.open(settings: host.settings, host: name, server: configuration.serverID) { operation, duration, failed in
                BerthMetrics.pluginCall(host: name, operation: operation, duration: duration, failed: failed)
            }
            logger.info("host opened", metadata: metadata)
            return .success(instance)
        } catch {
            let failure = PluginHostError(
                .openFailed, host: host.name, file: plugin.file, "\(error.code): \(error.message)", pluginError: error)
            logger.error("host not opened", metadata: metadata.merging(["error": "\(failure)"]) { $1 })
            return .failure(failure)
        }
    }

    private static func loadPlugins(in folders: [String], logger: Logger) -> [PluginRecord] {
        var records: [PluginRecord] = []
        var byName: [String: String] = [:]
        for file in folders.flatMap(pluginFiles(in:)) {
            let result: Result<LoadedPlugin, PluginHostError>
            do {
                let plugin = try LoadedPlugin.load(file: file)
                if let first = byName[plugin.name] {
                    result = .failure(PluginHostError(
                        .duplicatePlugin, file: file, "plugin name '\(plugin.name)' is already provided by \(first)"))
                } else {
                    byName[plugin.name] = file
                    result = .success(plugin)
                    logger.info(
                        "plugin loaded",
                        metadata: ["file": "\(file)", "plugin": "\(plugin.name)", "version": "\(plugin.version)"])
                }
            } catch {
                result = .failure(PluginHostError(.pluginLoadFailed, file: file, error.message))
            }
            if case .failure(let error) = result {
                logger.error("plugin not loaded", metadata: ["file": "\(file)", "error": "\(error)"])
            }
            records.append(PluginRecord(file: file, result: result))
        }
        return records
    }

    /// The `lib*.so` files directly in `folder`, sorted by name.
    static func pluginFiles(in folder: String) -> [String] {
        guard let directory = opendir(folder) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name.hasPrefix("lib"), name.hasSuffix(".so") { names.append(name) }
        }
        return names.sorted().map { folder.hasSuffix("/") ? folder + $0 : folder + "/" + $0 }
    }
}
