public import BerthCore
public import BerthPluginKit
import BerthYAML
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The server's configuration: one YAML file (`config/berth.example.yaml` shows every key),
/// each key also settable by an environment variable, which wins over the file.
///
/// Errors name the file and the key path (`berth.yaml: hosts[1].plugin: is required`), or the
/// variable. Unknown keys are errors, so a typo never silently falls back to a default.
public struct BerthConfig: Sendable, Hashable {
    /// Where the REST API listens.
    public struct Listen: Sendable, Hashable {
        /// The address to bind (`127.0.0.1`, `0.0.0.0`).
        public var host: String
        /// The TCP port.
        public var port: Int
        /// Serve HTTPS with this PEM certificate chain (`listen.tls.certificate_file`).
        public var tlsCertificateFile: String?
        /// … and this PEM private key (`listen.tls.key_file`).
        public var tlsKeyFile: String?

        /// A listen address.
        public init(host: String = "127.0.0.1", port: Int = 8080, tlsCertificateFile: String? = nil, tlsKeyFile: String? = nil) {
            self.host = host
            self.port = port
            self.tlsCertificateFile = tlsCertificateFile
            self.tlsKeyFile = tlsKeyFile
        }

        /// Whether the API is served over HTTPS.
        public var usesTLS: Bool { tlsCertificateFile != nil }
    }

    /// One target host: a name, the plugin serving it, and that plugin's settings.
    public struct Host: Sendable, Hashable {
        /// The host's name, unique in the file (`local`, `gpu-box`).
        public var name: String
        /// The plugin's name (`docker`, `simulated`).
        public var plugin: String
        /// Executions the scheduler runs on this host at once; nil for no limit of Berth's own.
        public var maxConcurrent: Int?
        /// Labels an execution can be matched against.
        public var labels: [String: String]
        /// The plugin's settings, checked against its schema.
        public var settings: JSONValue
        /// What the host accepts (`policy`); by default what Berth accepts.
        public var policy: HostPolicy = HostPolicy()

        /// A host.
        public init(name: String, plugin: String, maxConcurrent: Int? = nil, labels: [String: String] = [:], settings: JSONValue = [:]) {
            self.name = name
            self.plugin = plugin
            self.maxConcurrent = maxConcurrent
            self.labels = labels
            self.settings = settings
        }
    }

    /// The API's limits on requests and connections (`limits.*` besides `max_body_bytes`).
    public struct Limits: Sendable, Hashable {
        /// The largest request head (`max_header_bytes`, default 16 KiB).
        public var maxHeaderBytes = 16 * 1024
        /// Seconds a connection may send no complete request part while no response is being
        /// written (`idle_timeout_seconds`, default 30).
        public var idleTimeoutSeconds = 30.0
        /// Seconds a request may take to arrive in full, head to end (`read_timeout_seconds`,
        /// default 60); past it the connection is closed.
        public var readTimeoutSeconds = 60.0
        /// Log follows one token may hold open (`max_log_follows_per_token`, default 8).
        public var maxLogFollowsPerToken = 8

        /// The defaults.
        public init() {}
    }

    /// The levels `log_level` accepts, as swift-log names them.
    public static let logLevels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
    /// The default for `limits.max_body_bytes`: 1 MiB.
    public static let defaultMaxBodyBytes = 1 << 20

    /// The file this configuration was read from; nil for defaults and environment only.
    public var file: String?
    /// Where the REST API listens (`listen`).
    public var listen: Listen
    /// The PostgreSQL connection URL (`database.url`); nil runs an embedded cluster under
    /// ``dataDirectory``.
    public var databaseURL: String?
    /// The server's own state, including the embedded cluster (`data_dir`).
    public var dataDirectory: String
    /// Folders whose `lib*.so` plugins are loaded (`plugin_dirs`); empty means the folder of
    /// the `berth` binary.
    public var pluginDirectories: [String]
    /// The deployment's server id, put on every runtime object as `berth.server` (`server_id`).
    /// Every server sharing a database uses the same one: when the file and the environment set
    /// none, `berth serve` takes the one recorded in the database (``serverIDIsConfigured``).
    public var serverID: String
    /// Whether `server_id` or `BERTH_SERVER_ID` set ``serverID`` (else it is the default).
    public var serverIDIsConfigured: Bool
    /// The host an execution runs on when it names none (`default_host`).
    public var defaultHost: String?
    /// swift-log level name (`log_level`).
    public var logLevel: String
    /// How log lines are written (`log.format`).
    public var logFormat: LogFormat = .text

    /// How log lines are written.
    public enum LogFormat: String, Sendable, CaseIterable {
        /// swift-log's plain lines.
        case text
        /// One JSON object per line.
        case json
    }
    /// The largest request body the API accepts (`limits.max_body_bytes`).
    public var maxBodyBytes: Int
    /// The target hosts, in file order (`hosts`).
    public var hosts: [Host]
    /// The API's limits besides the body size (`limits`).
    public var limits = Limits()
    /// The key that seals secret environment values (`secrets.key_file`); nil for
    /// `<data_dir>/secrets.key`. Made (32 random bytes, mode 0600) when missing.
    public var secretsKeyFile: String?

    /// The most bytes of output stored per execution (`outputs.max_log_bytes`, default 256 MiB);
    /// past it a marker says where the output was cut.
    public var maxLogBytesPerExecution: Int64 = 256 << 20
    /// The most bytes of outputs collected per attempt (`outputs.max_artifact_bytes`, default
    /// 100 MiB); past it none are kept.
    public var maxArtifactBytes: Int64 = 100 << 20
    /// Where an execution's inline config is written in its container
    /// (`inputs.config_path`, default `/berth/in/config.json`).
    public var configPath = "/berth/in/config.json"
    /// Seconds after it finished that an execution keeps its logs, collected outputs and kept
    /// runtime objects (`retention.finished_seconds`, default 7 days); `nil` (0) keeps them.
    public var retentionSeconds: Double? = 7 * 86_400
    /// URL patterns a submission's `webhook_url` may match (`webhooks.allowed_urls`); empty
    /// (the default): no webhooks.
    public var webhookURLs: [String] = []
    /// The secret that signs webhook calls (`webhooks.secret_file`); nil for
    /// `<data_dir>/webhook.secret`, made (mode 0600) when missing.
    public var webhookSecretFile: String?
    /// The webhook secret file in use.
    public var effectiveWebhookSecretFile: String { webhookSecretFile ?? dataDirectory + "/webhook.secret" }

    /// The job-service routes (`job_service`, when `enabled`); nil serves none.
    public var jobService: JobServiceSettings?
    /// Whether the web dashboard is served at `/` (`dashboard.enabled`, default true).
    public var dashboardEnabled = true

    /// The secrets key file in use: ``secretsKeyFile``, else `<data_dir>/secrets.key`.
    public var effectiveSecretsKeyFile: String { secretsKeyFile ?? dataDirectory + "/secrets.key" }
    /// How long, at most, scheduling and supervision stay without a leader after the leading
    /// server dies (`leader_failover_seconds`): the others try for leadership five times in it.
    public var leaderFailoverSeconds: Double = 10

    /// A configuration; every argument defaults as the file's keys do.
    public init(
        file: String? = nil,
        listen: Listen = Listen(),
        databaseURL: String? = nil,
        dataDirectory: String,
        pluginDirectories: [String] = [],
        serverID: String,
        defaultHost: String? = nil,
        logLevel: String = "info",
        maxBodyBytes: Int = BerthConfig.defaultMaxBodyBytes,
        hosts: [Host] = []
    ) {
        self.file = file
        self.listen = listen
        self.databaseURL = databaseURL
        self.dataDirectory = dataDirectory
        self.pluginDirectories = pluginDirectories
        self.serverID = serverID
        self.serverIDIsConfigured = false
        self.defaultHost = defaultHost
        self.logLevel = logLevel
        self.maxBodyBytes = maxBodyBytes
        self.hosts = hosts
    }

    // MARK: - Loading

    /// The configuration from `file` (or the built-in default when nil) with `environment`
    /// applied on top.
    /// - Throws: ``ConfigurationError`` naming the file and key, or the variable.
    public static func load(file: String?, environment: [String: String]) throws(ConfigurationError) -> BerthConfig {
        guard let file else { return try defaults(environment: environment) }
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw ConfigurationError(file: file, location: "", reason: "cannot read the file: \(Self.describe(error))")
        }
        return try parse(yaml: text, file: file, environment: environment)
    }

    /// The configuration in the YAML `text` with `environment` applied on top.
    public static func parse(yaml text: String, file: String? = nil, environment: [String: String] = [:]) throws(ConfigurationError) -> BerthConfig {
        let json: JSONValue
        do {
            json = try JSONValue(yaml: text, file: file)
        } catch {
            throw ConfigurationError(file: error.file, location: error.location, reason: error.reason)
        }
        return try parse(json: json, file: file, environment: environment)
    }

    /// The configuration in `document` (the YAML file as JSON) with `environment` applied on top.
    public static func parse(json document: JSONValue, file: String? = nil, environment: [String: String] = [:]) throws(ConfigurationError) -> BerthConfig {
        var config: BerthConfig
        do {
            config = try read(document, file: file, environment: environment)
        } catch {
            throw ConfigurationError(file: file, location: error.location, reason: error.reason)
        }
        try config.apply(environment: environment)
        try config.validate()
        return config
    }

    /// The configuration used when no file is given: one host `local` on the `docker` plugin
    /// at `/var/run/docker.sock`, which is also the default host; then `environment` on top.
    public static func defaults(environment: [String: String] = [:]) throws(ConfigurationError) -> BerthConfig {
        var config = BerthConfig(
            dataDirectory: defaultDataDirectory(environment: environment),
            serverID: defaultServerID(),
            defaultHost: "local",
            hosts: [Host(name: "local", plugin: "docker", settings: ["socket_path": "/var/run/docker.sock"])])
        try config.apply(environment: environment)
        try config.validate()
        return config
    }

    /// `/var/lib/berth` for root; otherwise `$XDG_DATA_HOME/berth`, else `$HOME/.local/share/berth`.
    public static func defaultDataDirectory(environment: [String: String], isRoot: Bool? = nil) -> String {
        if isRoot ?? (geteuid() == 0) { return "/var/lib/berth" }
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") { return xdg + "/berth" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.local/share/berth"
    }

    /// `berth-<short host name>`, such as `berth-build-7`.
    public static func defaultServerID() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "berth" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let short = name.split(separator: ".").first.map(String.init) ?? ""
        return short.isEmpty ? "berth" : "berth-\(short)"
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? CocoaError, let underlying = error.underlying as? POSIXError {
            return String(cString: strerror(underlying.code.rawValue))
        }
        if let error = error as? CocoaError, error.code == .fileReadNoSuchFile {
            return "no such file"
        }
        return "\(error.localizedDescription)"
    }

    // MARK: - Reading the document

    private static let topKeys: Set = [
        "listen", "database", "data_dir", "plugin_dirs", "server_id", "default_host", "log_level", "log", "dashboard", "limits", "hosts",
        "leader_failover_seconds", "secrets", "outputs", "inputs", "retention", "webhooks", "job_service",
    ]

    private static func read(_ document: JSONValue, file: String?, environment: [String: String]) throws(JSONError) -> BerthConfig {
        let root = try JSONObjectReader(document, path: "")
        try rejectUnknown(root, allowed: topKeys)
        var listen = Listen()
        if let value = root.value("listen") {
            let reader = try JSONObjectReader(value, path: "listen")
            try rejectUnknown(reader, allowed: ["host", "port", "tls"])
            if let tls = reader.value("tls") {
                let files = try JSONObjectReader(tls, path: "listen.tls")
                try rejectUnknown(files, allowed: ["certificate_file", "key_file"])
                listen.tlsCertificateFile = try files.string("certificate_file")
                listen.tlsKeyFile = try files.string("key_file")
            }
            listen.host = try reader.optionalString("host") ?? listen.host
            if let port = try reader.optionalInt("port") {
                guard (1...65535).contains(port) else {
                    throw JSONError(location: "listen.port", reason: "expected a port number from 1 to 65535, found \(port)")
                }
                listen.port = Int(port)
            }
        }
        var databaseURL: String?
        if let value = root.value("database") {
            let reader = try JSONObjectReader(value, path: "database")
            try rejectUnknown(reader, allowed: ["url"])
            databaseURL = try reader.optionalString("url")
        }
        var maxBodyBytes = defaultMaxBodyBytes
        var limits = Limits()
        if let value = root.value("limits") {
            let reader = try JSONObjectReader(value, path: "limits")
            try rejectUnknown(reader, allowed: ["max_body_bytes", "max_header_bytes", "idle_timeout_seconds", "read_timeout_seconds", "max_log_follows_per_token"])
            if let limit = try reader.optionalInt("max_body_bytes") {
                guard limit >= 1024 else {
                    throw JSONError(location: "limits.max_body_bytes", reason: "must be at least 1024, found \(limit)")
                }
                maxBodyBytes = Int(limit)
            }
            if let limit = try reader.optionalInt("max_header_bytes") {
                guard (1024...1_048_576).contains(limit) else {
                    throw JSONError(location: "limits.max_header_bytes", reason: "must be from 1024 to 1048576, found \(limit)")
                }
                limits.maxHeaderBytes = Int(limit)
            }
            if let seconds = try reader.optionalDouble("idle_timeout_seconds") {
                guard (1...3600).contains(seconds) else {
                    throw JSONError(location: "limits.idle_timeout_seconds", reason: "must be from 1 to 3600, found \(seconds)")
                }
                limits.idleTimeoutSeconds = seconds
            }
            if let seconds = try reader.optionalDouble("read_timeout_seconds") {
                guard (1...3600).contains(seconds) else {
                    throw JSONError(location: "limits.read_timeout_seconds", reason: "must be from 1 to 3600, found \(seconds)")
                }
                limits.readTimeoutSeconds = seconds
            }
            if let count = try reader.optionalInt("max_log_follows_per_token") {
                guard (1...10_000).contains(count) else {
                    throw JSONError(location: "limits.max_log_follows_per_token", reason: "must be from 1 to 10000, found \(count)")
                }
                limits.maxLogFollowsPerToken = Int(count)
            }
        }
        let logLevel = try root.optionalString("log_level") ?? "info"
        guard logLevels.contains(logLevel) else {
            throw JSONError(location: "log_level", reason: "unknown level '\(logLevel)' (one of \(logLevels.joined(separator: ", ")))")
        }
        var logFormat = LogFormat.text
        if let value = root.value("log") {
            let reader = try JSONObjectReader(value, path: "log")
            try rejectUnknown(reader, allowed: ["format"])
            if let name = try reader.optionalString("format") {
                guard let format = LogFormat(rawValue: name) else {
                    throw JSONError(
                        location: "log.format",
                        reason: "unknown format '\(name)' (one of \(LogFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                logFormat = format
            }
        }
        var hosts: [Host] = []
        if let value = root.value("hosts") {
            guard let elements = value.arrayValue else {
                throw JSONError(location: "hosts", reason: "expected an array of hosts, found \(value.typeName)")
            }
            for (offset, element) in elements.enumerated() {
                hosts.append(try readHost(element, path: "hosts[\(offset)]"))
            }
        }
        let configuredServerID = try root.optionalString("server_id")
        var config = BerthConfig(
            file: file,
            listen: listen,
            databaseURL: databaseURL,
            dataDirectory: try root.optionalString("data_dir") ?? defaultDataDirectory(environment: environment),
            pluginDirectories: try root.optionalStrings("plugin_dirs") ?? [],
            serverID: configuredServerID ?? defaultServerID(),
            defaultHost: try root.optionalString("default_host"),
            logLevel: logLevel,
            maxBodyBytes: maxBodyBytes,
            hosts: hosts)
        config.serverIDIsConfigured = configuredServerID != nil
        config.limits = limits
        config.logFormat = logFormat
        if let value = root.value("secrets") {
            let reader = try JSONObjectReader(value, path: "secrets")
            try rejectUnknown(reader, allowed: ["key_file"])
            config.secretsKeyFile = try reader.optionalString("key_file")
        }
        if let value = root.value("outputs") {
            let reader = try JSONObjectReader(value, path: "outputs")
            try rejectUnknown(reader, allowed: ["max_log_bytes", "max_artifact_bytes"])
            if let bytes = try reader.optionalInt("max_log_bytes") {
                guard bytes >= 1024 else {
                    throw JSONError(location: "outputs.max_log_bytes", reason: "must be at least 1024, found \(bytes)")
                }
                config.maxLogBytesPerExecution = bytes
            }
            if let bytes = try reader.optionalInt("max_artifact_bytes") {
                guard bytes >= 0 else {
                    throw JSONError(location: "outputs.max_artifact_bytes", reason: "must be 0 (collect nothing) or more, found \(bytes)")
                }
                config.maxArtifactBytes = bytes
            }
        }
        if let value = root.value("webhooks") {
            let reader = try JSONObjectReader(value, path: "webhooks")
            try rejectUnknown(reader, allowed: ["allowed_urls", "secret_file"])
            let patterns = try reader.optionalStrings("allowed_urls") ?? []
            for (index, pattern) in patterns.enumerated() where !(pattern.hasPrefix("http://") || pattern.hasPrefix("https://")) {
                throw JSONError(location: "webhooks.allowed_urls[\(index)]", reason: "must start with http:// or https://, found '\(pattern)'")
            }
            config.webhookURLs = patterns
            config.webhookSecretFile = try reader.optionalString("secret_file")
        }
        if let value = root.value("retention") {
            let reader = try JSONObjectReader(value, path: "retention")
            try rejectUnknown(reader, allowed: ["finished_seconds"])
            if let seconds = try reader.optionalDouble("finished_seconds") {
                guard seconds >= 0, seconds <= 10 * 365 * 86_400 else {
                    throw JSONError(location: "retention.finished_seconds", reason: "must be 0 (keep for ever) to 315360000 (ten years), found \(seconds)")
                }
                config.retentionSeconds = seconds == 0 ? nil : seconds
            }
        }
        if let value = root.value("inputs") {
            let reader = try JSONObjectReader(value, path: "inputs")
            try rejectUnknown(reader, allowed: ["config_path"])
            if let path = try reader.optionalString("config_path") {
                if let problem = SpecFile.pathProblem(path) {
                    throw JSONError(location: "inputs.config_path", reason: problem)
                }
                config.configPath = path
            }
        }
        if let value = root.value("job_service") {
            config.jobService = try readJobService(value)
        }
        if let value = root.value("dashboard") {
            let reader = try JSONObjectReader(value, path: "dashboard")
            try rejectUnknown(reader, allowed: ["enabled"])
            config.dashboardEnabled = try reader.optionalBool("enabled") ?? true
        }
        if let seconds = try root.optionalDouble("leader_failover_seconds") {
            guard (1...300).contains(seconds) else {
                throw JSONError(location: "leader_failover_seconds", reason: "must be from 1 to 300, found \(seconds)")
            }
            config.leaderFailoverSeconds = seconds
        }
        return config
    }

    /// `job_service`: nil unless `enabled`; the image is then required, the config folder
    /// absolute, and the variables' names valid.
    private static func readJobService(_ value: JSONValue) throws(JSONError) -> JobServiceSettings? {
        let reader = try JSONObjectReader(value, path: "job_service")
        try rejectUnknown(reader, allowed: ["enabled", "image", "command", "args", "env", "config_folder", "timeout_seconds", "max_log_response_bytes"])
        let image = try reader.optionalString("image")
        guard try reader.optionalBool("enabled") ?? false else { return nil }
        guard let image, !image.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw JSONError(location: "job_service.image", reason: "is required when job_service.enabled is true: the image every job runs")
        }
        var settings = JobServiceSettings(image: image)
        settings.command = try reader.optionalStrings("command")
        settings.args = try reader.optionalStrings("args") ?? []
        settings.env = try reader.optionalStringMap("env") ?? [:]
        for name in settings.env.keys.sorted() where name.wholeMatch(of: /[A-Za-z_][A-Za-z0-9_]*/) == nil {
            throw JSONError(location: "job_service.env.\(name)", reason: "not a valid environment variable name (must match [A-Za-z_][A-Za-z0-9_]*)")
        }
        if let folder = try reader.optionalString("config_folder") {
            guard folder.hasPrefix("/") else {
                throw JSONError(location: "job_service.config_folder", reason: "must be an absolute path, found '\(folder)'")
            }
            settings.configFolder = folder
        }
        if let seconds = try reader.optionalInt("timeout_seconds") {
            guard (1...Int64(Int32.max)).contains(seconds) else {
                throw JSONError(location: "job_service.timeout_seconds", reason: "must be from 1 to \(Int32.max), found \(seconds)")
            }
            settings.timeoutSeconds = Int(seconds)
        }
        if let bytes = try reader.optionalInt("max_log_response_bytes") {
            guard (1024...(1 << 30)).contains(bytes) else {
                throw JSONError(location: "job_service.max_log_response_bytes", reason: "must be from 1024 to 1073741824, found \(bytes)")
            }
            settings.maxLogResponseBytes = Int(bytes)
        }
        return settings
    }

    private static func readHost(_ value: JSONValue, path: String) throws(JSONError) -> Host {
        let reader = try JSONObjectReader(value, path: path)
        try rejectUnknown(reader, allowed: ["name", "plugin", "max_concurrent", "labels", "settings", "policy"])
        let name = try reader.string("name")
        guard !name.isEmpty else { throw JSONError(location: reader.path(of: "name"), reason: "must not be empty") }
        let plugin = try reader.string("plugin")
        let maxConcurrent = try reader.optionalInt("max_concurrent")
        if let maxConcurrent, maxConcurrent < 1 {
            throw JSONError(location: reader.path(of: "max_concurrent"), reason: "must be at least 1, found \(maxConcurrent)")
        }
        let settings = reader.value("settings") ?? [:]
        guard case .object = settings else {
            throw JSONError(location: reader.path(of: "settings"), reason: "expected an object, found \(settings.typeName)")
        }
        var host = Host(
            name: name, plugin: plugin, maxConcurrent: maxConcurrent.map { Int($0) },
            labels: try reader.optionalStringMap("labels") ?? [:], settings: settings)
        if let value = reader.value("policy") { host.policy = try readPolicy(value, path: reader.path(of: "policy")) }
        return host
    }

    private static func readPolicy(_ value: JSONValue, path: String) throws(JSONError) -> HostPolicy {
        let reader = try JSONObjectReader(value, path: path)
        try rejectUnknown(reader, allowed: ["images", "max_cpus", "max_memory_mb", "max_timeout_seconds"])
        var policy = HostPolicy(images: try reader.optionalStrings("images") ?? [])
        if policy.images.contains(where: \.isEmpty) {
            throw JSONError(location: reader.path(of: "images"), reason: "patterns must not be empty")
        }
        policy.maxCPUs = try reader.optionalDouble("max_cpus")
        if let cpus = policy.maxCPUs, !(cpus > 0) {
            throw JSONError(location: reader.path(of: "max_cpus"), reason: "must be greater than 0, found \(cpus)")
        }
        policy.maxMemoryMB = try reader.optionalInt("max_memory_mb")
        if let memory = policy.maxMemoryMB, memory < 1 || memory > Int64.max >> 20 {
            throw JSONError(location: reader.path(of: "max_memory_mb"), reason: "must be at least 1, found \(memory)")
        }
        if let seconds = try reader.optionalInt("max_timeout_seconds") {
            guard seconds >= 1, seconds <= Int64(Int32.max) else {
                throw JSONError(location: reader.path(of: "max_timeout_seconds"), reason: "must be at least 1, found \(seconds)")
            }
            policy.maxTimeoutSeconds = Int(seconds)
        }
        return policy
    }

    private static func rejectUnknown(_ reader: JSONObjectReader, allowed: Set<String>) throws(JSONError) {
        if let unknown = reader.members.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw JSONError(
                location: reader.path(of: unknown),
                reason: "unknown key (expected one of \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    // MARK: - Environment

    /// The environment variables that override keys, with the key each one sets.
    public static let environmentVariables: KeyValuePairs<String, String> = [
        "BERTH_LISTEN_HOST": "listen.host",
        "BERTH_LISTEN_PORT": "listen.port",
        "BERTH_DATABASE_URL": "database.url",
        "BERTH_DATA_DIR": "data_dir",
        "BERTH_PLUGIN_DIRS": "plugin_dirs",
        "BERTH_SERVER_ID": "server_id",
        "BERTH_DEFAULT_HOST": "default_host",
        "BERTH_LOG_LEVEL": "log_level",
        "BERTH_MAX_BODY_BYTES": "limits.max_body_bytes",
        "BERTH_LEADER_FAILOVER_SECONDS": "leader_failover_seconds",
        "BERTH_SECRETS_KEY_FILE": "secrets.key_file",
    ]

    /// Applies the `BERTH_*` variables in `environment` over the file's values. A variable set
    /// to the empty string counts as unset.
    public mutating func apply(environment: [String: String]) throws(ConfigurationError) {
        func variable(_ name: String) -> String? {
            guard let value = environment[name], !value.isEmpty else { return nil }
            return value
        }
        if let host = variable("BERTH_LISTEN_HOST") { listen.host = host }
        if let text = variable("BERTH_LISTEN_PORT") {
            guard let port = Int(text), (1...65535).contains(port) else {
                throw ConfigurationError(location: "BERTH_LISTEN_PORT", reason: "expected a port number from 1 to 65535, found '\(text)'")
            }
            listen.port = port
        }
        if let url = variable("BERTH_DATABASE_URL") { databaseURL = url }
        if let folder = variable("BERTH_DATA_DIR") { dataDirectory = folder }
        if let folders = variable("BERTH_PLUGIN_DIRS") {
            pluginDirectories = folders.split(separator: ":").map(String.init)
        }
        if let id = variable("BERTH_SERVER_ID") {
            serverID = id
            serverIDIsConfigured = true
        }
        if let host = variable("BERTH_DEFAULT_HOST") { defaultHost = host }
        if let level = variable("BERTH_LOG_LEVEL") {
            guard Self.logLevels.contains(level) else {
                throw ConfigurationError(
                    location: "BERTH_LOG_LEVEL", reason: "unknown level '\(level)' (one of \(Self.logLevels.joined(separator: ", ")))")
            }
            logLevel = level
        }
        if let file = variable("BERTH_SECRETS_KEY_FILE") { secretsKeyFile = file }
        if let text = variable("BERTH_LEADER_FAILOVER_SECONDS") {
            guard let seconds = Double(text), (1...300).contains(seconds) else {
                throw ConfigurationError(location: "BERTH_LEADER_FAILOVER_SECONDS", reason: "expected seconds from 1 to 300, found '\(text)'")
            }
            leaderFailoverSeconds = seconds
        }
        if let text = variable("BERTH_MAX_BODY_BYTES") {
            guard let limit = Int(text), limit >= 1024 else {
                throw ConfigurationError(location: "BERTH_MAX_BODY_BYTES", reason: "expected a number of at least 1024, found '\(text)'")
            }
            maxBodyBytes = limit
        }
    }

    /// Checks what spans keys: host names are unique and `default_host` names one of them.
    public func validate() throws(ConfigurationError) {
        var seen: [String: Int] = [:]
        for (offset, host) in hosts.enumerated() {
            if let first = seen[host.name] {
                throw ConfigurationError(
                    file: file, location: "hosts[\(offset)].name",
                    reason: "'\(host.name)' is already the name of hosts[\(first)]")
            }
            seen[host.name] = offset
        }
        if let defaultHost, seen[defaultHost] == nil {
            let names = hosts.map(\.name)
            throw ConfigurationError(
                file: file, location: "default_host",
                reason: "'\(defaultHost)' is not a configured host (hosts: \(names.isEmpty ? "none" : names.joined(separator: ", ")))")
        }
        if dataDirectory.isEmpty {
            throw ConfigurationError(file: file, location: "data_dir", reason: "must not be empty")
        }
        if serverID.isEmpty {
            throw ConfigurationError(file: file, location: "server_id", reason: "must not be empty")
        }
    }

    // MARK: - What the server needs

    /// What the ``PluginHost`` loads and opens.
    public func pluginHostConfiguration() -> PluginHostConfiguration {
        PluginHostConfiguration(
            pluginFolders: pluginDirectories,
            hosts: hosts.map { TargetHostConfiguration(name: $0.name, plugin: $0.plugin, settings: $0.settings) },
            serverID: serverID)
    }

    /// The plugin folders actually searched: ``pluginDirectories``, or the binary's folder.
    public var effectivePluginDirectories: [String] {
        pluginDirectories.isEmpty ? [PluginHost.executableFolder] : pluginDirectories
    }

    /// How the scheduler places work and elects its leader: the default host, the hosts'
    /// limits, and a leadership retry of a fifth of ``leaderFailoverSeconds``.
    public func schedulerConfiguration() -> SchedulerConfiguration {
        var configuration = SchedulerConfiguration(defaultHost: defaultHost, maxConcurrent: maxConcurrentByHost)
        configuration.hostLabels = labelsByHost
        configuration.leaderRetryInterval = .milliseconds(Int64(leaderFailoverSeconds * 200))
        return configuration
    }

    /// Each host's `max_concurrent`, for hosts that set one.
    public var maxConcurrentByHost: [String: Int] {
        var limits: [String: Int] = [:]
        for host in hosts {
            if let limit = host.maxConcurrent { limits[host.name] = limit }
        }
        return limits
    }

    /// Each host's policy, for hosts that have one.
    public var policiesByHost: [String: HostPolicy] {
        var policies: [String: HostPolicy] = [:]
        for host in hosts where host.policy != HostPolicy() { policies[host.name] = host.policy }
        return policies
    }

    /// Each host's labels.
    public var labelsByHost: [String: [String: String]] {
        Dictionary(hosts.map { ($0.name, $0.labels) }, uniquingKeysWith: { first, _ in first })
    }

    /// The embedded cluster's data folder: `<data_dir>`, under which it keeps `postgres/`.
    public var embeddedPostgresDirectory: String { dataDirectory }

    /// Where `berth serve` writes the first admin token (mode 0600) and where the CLI looks
    /// for a token when it talks to a server on this machine: `<data_dir>/admin.token`.
    public var adminTokenFile: String { dataDirectory + "/admin.token" }

    /// The URL clients use to reach this server (`http://127.0.0.1:8080`); a wildcard listen
    /// address is shown as the loopback address.
    public var listenURL: String {
        let host = switch listen.host {
        case "0.0.0.0", "": "127.0.0.1"
        case "::": "[::1]"
        default: listen.host.contains(":") ? "[\(listen.host)]" : listen.host
        }
        return "\(listen.usesTLS ? "https" : "http")://\(host):\(listen.port)"
    }
}
