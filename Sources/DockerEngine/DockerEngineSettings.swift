public import BerthPluginKit

/// Settings every Docker-engine plugin shares, whatever carries its API calls.
public struct DockerEngineSettings: Sendable {
    /// Credentials for one registry.
    public struct RegistryCredentials: Sendable, Hashable {
        /// User name.
        public var username: String
        /// Password or token. Never logged, never in a message.
        public var password: String
    }

    /// Attempts this host runs at once at most.
    public var maxConcurrent: Int
    /// The pull policy when a spec gives none.
    public var pullPolicy: ExecutionSpec.PullPolicy
    /// Credentials by registry address (`127.0.0.1:5000`, `docker.io`).
    public var registryAuth: [String: RegistryCredentials]
    /// Seconds an ordinary API call may take.
    public var requestTimeout: Double
    /// Seconds a pull may take.
    public var pullTimeout: Double
    /// The target host's name, for messages.
    public var host: String
    /// The Berth server id, for the `berth.server` label.
    public var server: String

    /// The JSON Schema properties of these settings, for the plugin's own schema.
    public static let schemaProperties: [String: JSONValue] = [
        "max_concurrent": ["type": "integer", "minimum": 1, "default": 4,
                           "description": "Attempts this host runs at once at most."],
        "pull_policy": ["enum": ["if_not_present", "always", "never"], "default": "if_not_present",
                        "description": "When to pull an image a spec does not set a policy for."],
        "registry_auth": [
            "type": "object",
            "description": "Registry credentials by registry address (host:port, or docker.io).",
            "additionalProperties": [
                "type": "object",
                "properties": ["username": ["type": "string", "minLength": 1], "password": ["type": "string"]],
                "required": ["username", "password"],
                "additionalProperties": false,
            ],
        ],
        "request_timeout_seconds": ["type": "number", "exclusiveMinimum": 0, "default": 30,
                                    "description": "Seconds an API call may take."],
        "pull_timeout_seconds": ["type": "number", "exclusiveMinimum": 0, "default": 600,
                                 "description": "Seconds an image pull may take."],
    ]

    /// A complete settings schema: these properties plus the plugin's own.
    public static func schema(adding properties: [String: JSONValue], required: [String] = []) -> JSONValue {
        [
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": .object(schemaProperties.merging(properties) { _, own in own }),
            "required": JSONValue(required),
            "additionalProperties": false,
        ]
    }

    /// Reads the shared settings, rejecting keys that neither they nor `pluginKeys` know.
    /// - Throws: `invalid_config` naming the key.
    public init(_ settings: PluginSettings, pluginKeys: Set<String>) throws(PluginError) {
        host = settings.host
        server = settings.server
        try settings.rejectUnknownKeys(allowed: Set(Self.schemaProperties.keys).union(pluginKeys))
        let reader = try settings.reader()
        do {
            maxConcurrent = Int(try reader.optionalInt("max_concurrent") ?? 4)
            guard maxConcurrent >= 1 else {
                throw JSONError(location: "settings.max_concurrent", reason: "must be at least 1")
            }
            pullPolicy = try reader.optionalEnum("pull_policy", ExecutionSpec.PullPolicy.self) ?? .ifNotPresent
            requestTimeout = try reader.optionalDouble("request_timeout_seconds") ?? 30
            pullTimeout = try reader.optionalDouble("pull_timeout_seconds") ?? 600
            guard requestTimeout > 0, pullTimeout > 0 else {
                throw JSONError(location: "settings", reason: "timeouts must be positive")
            }
            registryAuth = [:]
            if let auth = reader.value("registry_auth") {
                let registries = try JSONObjectReader(auth, path: "settings.registry_auth")
                for (registry, entry) in registries.members {
                    let credentials = try JSONObjectReader(entry, path: registries.path(of: registry))
                    registryAuth[registry] = RegistryCredentials(
                        username: try credentials.string("username"), password: try credentials.string("password"))
                }
            }
        } catch {
            throw PluginError(.invalidConfig, "host \(host): \(error)")
        }
    }
}
