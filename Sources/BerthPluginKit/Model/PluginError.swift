/// An error as a plugin reports it: `{"code", "message", "retryable"}`.
///
/// The codes are a fixed set (see `berth_plugin.h`); the message says, in words a user can act
/// on, what went wrong and where (which host, which image, which file). It never holds a secret.
public struct PluginError: Error, Sendable, Hashable, CustomStringConvertible, JSONRepresentable {
    /// One of the ABI's fixed error codes.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code as it appears on the wire.
        public let rawValue: String

        private init(_ rawValue: String) { self.rawValue = rawValue }

        /// Host settings are malformed or rejected by the plugin's schema.
        public static let invalidConfig = Code("invalid_config")
        /// An execution spec or another request does not decode or is not acceptable.
        public static let invalidSpec = Code("invalid_spec")
        /// The image does not exist or cannot be pulled.
        public static let imageNotFound = Code("image_not_found")
        /// The runtime object does not exist (any more).
        public static let notFound = Code("not_found")
        /// The engine cannot be reached right now.
        public static let unavailable = Code("unavailable")
        /// The engine did not answer in time.
        public static let timeout = Code("timeout")
        /// The engine or a registry refused the credentials.
        public static let permissionDenied = Code("permission_denied")
        /// The backend does not offer this operation (an optional one, such as `collect`).
        public static let unsupported = Code("unsupported")
        /// Anything else.
        public static let `internal` = Code("internal")

        /// Every code of the ABI.
        public static let all: [Code] = [
            .invalidConfig, .invalidSpec, .imageNotFound, .notFound, .unavailable, .timeout,
            .permissionDenied, .unsupported, .internal,
        ]

        /// The code with this wire name, or nil when the ABI has no such code.
        public init?(rawValue: String) {
            guard let code = Code.all.first(where: { $0.rawValue == rawValue }) else { return nil }
            self = code
        }

        public var description: String { rawValue }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What went wrong, for a person.
    public var message: String
    /// Whether trying the same call again may succeed.
    public var retryable: Bool

    /// An error with a code, a message and whether a retry may help (by default only
    /// `unavailable` and `timeout` are retryable).
    public init(_ code: Code, _ message: String, retryable: Bool? = nil) {
        self.code = code
        self.message = message
        self.retryable = retryable ?? (code == .unavailable || code == .timeout)
    }

    /// A request that did not decode, as `invalid_spec` naming the field.
    public init(invalidSpec error: JSONError) {
        self.init(.invalidSpec, "invalid request: \(error)")
    }

    public var description: String { "\(code): \(message)" }

    public init(json: JSONValue) throws(JSONError) {
        let reader = try JSONObjectReader(json, path: "error")
        let codeText = try reader.string("code")
        // A code outside the fixed set is kept visible as `internal`, not dropped.
        if let code = Code(rawValue: codeText) {
            self.code = code
            self.message = try reader.optionalString("message") ?? ""
        } else {
            self.code = .internal
            self.message = "[\(codeText)] " + (try reader.optionalString("message") ?? "")
        }
        self.retryable = try reader.optionalBool("retryable") ?? false
    }

    public var json: JSONValue {
        ["code": .string(code.rawValue), "message": .string(message), "retryable": .bool(retryable)]
    }
}
