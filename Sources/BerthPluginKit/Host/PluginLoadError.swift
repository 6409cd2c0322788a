/// Why a plugin file could not be loaded. Every case names the file.
public struct PluginLoadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of load failure this is.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's stable name.
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }

        /// The file is not a shared library (bad ELF header, too short, wrong class).
        public static let notSharedLibrary = Code("not_shared_library")
        /// The dynamic loader refused it for another reason (a missing dependency, say).
        public static let openFailed = Code("open_failed")
        /// The library exports no `berth_plugin_v1`.
        public static let missingEntry = Code("missing_entry")
        /// The descriptor's ABI version is not one this host speaks.
        public static let unknownABIVersion = Code("unknown_abi_version")
        /// The descriptor is smaller than this host's `berth_plugin_v1_t`.
        public static let structTooSmall = Code("struct_too_small")
        /// The descriptor is malformed (a missing name or function, a schema that is not JSON).
        public static let invalidDescriptor = Code("invalid_descriptor")

        public var description: String { rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// The plugin file.
    public var file: String
    /// The details, in words.
    public var message: String

    /// A load error for `file`.
    public init(_ code: Code, file: String, _ message: String) {
        self.code = code
        self.file = file
        self.message = message
    }

    public var description: String { "plugin \(file): \(message)" }
}
