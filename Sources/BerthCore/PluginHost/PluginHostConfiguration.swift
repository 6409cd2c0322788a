public import BerthPluginKit

/// One target host from configuration: a name, the backend plugin that serves it, and that
/// plugin's settings.
public struct TargetHostConfiguration: Sendable, Hashable {
    /// The host's name (`local`, `gpu-box`).
    public var name: String
    /// The plugin's name as its descriptor gives it (`docker`, `simulated`).
    public var plugin: String
    /// The plugin's settings object.
    public var settings: JSONValue

    /// A target host.
    public init(name: String, plugin: String, settings: JSONValue = [:]) {
        self.name = name
        self.plugin = plugin
        self.settings = settings
    }
}

/// What the ``PluginHost`` loads and opens.
public struct PluginHostConfiguration: Sendable {
    /// Folders whose `lib*.so` files are loaded. Empty means the folder of the running binary.
    public var pluginFolders: [String]
    /// The target hosts to open.
    public var hosts: [TargetHostConfiguration]
    /// The id of this Berth server, put on every runtime object as `berth.server`.
    public var serverID: String

    /// A configuration.
    public init(pluginFolders: [String] = [], hosts: [TargetHostConfiguration], serverID: String) {
        self.pluginFolders = pluginFolders
        self.hosts = hosts
        self.serverID = serverID
    }
}
