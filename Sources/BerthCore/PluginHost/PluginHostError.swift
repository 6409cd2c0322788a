public import BerthPluginKit

/// Why a plugin or a target host is not available. Names the host, the file, or both.
public struct PluginHostError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's stable name.
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }

        /// A plugin file failed to load (see the message for the load error).
        public static let pluginLoadFailed = Code("plugin_load_failed")
        /// Two files provide a plugin of the same name.
        public static let duplicatePlugin = Code("duplicate_plugin")
        /// A host names a plugin that no loaded file provides.
        public static let unknownPlugin = Code("unknown_plugin")
        /// A host's settings violate its plugin's schema.
        public static let settingsRejected = Code("settings_rejected")
        /// The plugin refused to open the host.
        public static let openFailed = Code("open_failed")
        /// No host of that name is configured.
        public static let unknownHost = Code("unknown_host")

        public var description: String { rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// The target host concerned, if any.
    public var host: String?
    /// The plugin file concerned, if any.
    public var file: String?
    /// The details.
    public var message: String
    /// The plugin's own error, when it reported one.
    public var pluginError: PluginError?

    /// An error.
    public init(_ code: Code, host: String? = nil, file: String? = nil, _ message: String, pluginError: PluginError? = nil) {
        self.code = code
        self.host = host
        self.file = file
        self.message = message
        self.pluginError = pluginError
    }

    public var description: String {
        var context: [String] = []
        if let host { context.append("host \(host)") }
        if let file { context.append("plugin \(file)") }
        return (context.isEmpty ? "" : context.joined(separator: ", ") + ": ") + message
    }
}
