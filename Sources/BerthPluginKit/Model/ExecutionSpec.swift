/// What a plugin needs to start one attempt of an execution.
public struct ExecutionSpec: Sendable, Hashable, JSONRepresentable {
    /// When the engine pulls the image before it starts an attempt.
    public enum PullPolicy: String, Sendable, Hashable, CaseIterable {
        /// Pull only when the engine does not have the image.
        case ifNotPresent = "if_not_present"
        /// Pull every time, so a moved tag is honoured.
        case always
        /// Never pull; a missing image is `image_not_found`.
        case never
    }

    /// The execution's id (a UUID).
    public var executionID: String
    /// The attempt number, from 1.
    public var attempt: Int
    /// The image reference, such as `127.0.0.1:5000/team/solver:3`.
    public var image: String
    /// Replaces the image's entrypoint when set.
    public var command: [String]?
    /// Arguments (the image's `CMD` is replaced when non-empty).
    public var args: [String]
    /// Environment variables.
    public var env: [String: String]
    /// Working directory inside the container.
    public var workingDir: String?
    /// User labels; the plugin adds `berth.execution`, `berth.attempt` and `berth.server`.
    public var labels: [String: String]
    /// CPU limit in cores.
    public var cpus: Double?
    /// Memory limit in bytes.
    public var memoryBytes: Int64?
    /// Network mode; `none` unless the host's policy allows another.
    public var networkMode: String
    /// Pull policy; nil means the host's default.
    public var pullPolicy: PullPolicy?
    /// Seconds the attempt may run. Berth enforces it itself; a backend that can also hold
    /// the engine to it (Kubernetes' `activeDeadlineSeconds`) does, so it holds while the
    /// server is away.
    public var timeoutSeconds: Int?
    /// Files to place in the runtime object before the attempt starts (the inline config). A
    /// backend that cannot place files refuses a spec that has some (`invalid_spec`).
    public var files: [SpecFile]

    /// A spec with the given fields.
    public init(
        executionID: String, attempt: Int = 1, image: String, command: [String]? = nil,
        args: [String] = [], env: [String: String] = [:], workingDir: String? = nil,
        labels: [String: String] = [:], cpus: Double? = nil, memoryBytes: Int64? = nil,
        networkMode: String = "none", pullPolicy: PullPolicy? = nil, timeoutSeconds: Int? = nil, files: [SpecFile] = []
    ) {
        self.files = files
        self.executionID = executionID
        self.attempt = attempt
        self.image = image
        self.command = command
        self.args = args
        self.env = env
        self.workingDir = workingDir
        self.labels = labels
        self.cpus = cpus
        self.memoryBytes = memoryBytes
        self.networkMode = networkMode
        self.pullPolicy = pullPolicy
        self.timeoutSeconds = timeoutSeconds
    }

    public init(json: JSONValue) throws(JSONError) {
        let reader = try JSONObjectReader(json, path: "spec")
        self.executionID = try reader.string("execution_id")
        let attempt = try reader.optionalInt("attempt") ?? 1
        guard attempt >= 1, attempt <= Int64(Int32.max) else {
            throw JSONError(location: "spec.attempt", reason: "must be at least 1")
        }
        self.attempt = Int(attempt)
        self.image = try reader.string("image")
        guard !image.isEmpty else { throw JSONError(location: "spec.image", reason: "must not be empty") }
        self.command = try reader.optionalStrings("command")
        self.args = try reader.optionalStrings("args") ?? []
        self.env = try reader.optionalStringMap("env") ?? [:]
        self.workingDir = try reader.optionalString("working_dir")
        self.labels = try reader.optionalStringMap("labels") ?? [:]
        self.cpus = try reader.optionalDouble("cpus")
        if let cpus, !(cpus > 0) { throw JSONError(location: "spec.cpus", reason: "must be positive") }
        self.memoryBytes = try reader.optionalInt("memory_bytes")
        if let memoryBytes, memoryBytes <= 0 {
            throw JSONError(location: "spec.memory_bytes", reason: "must be positive")
        }
        self.networkMode = try reader.optionalString("network_mode") ?? "none"
        self.pullPolicy = try reader.optionalEnum("pull_policy", PullPolicy.self)
        if let timeout = try reader.optionalInt("timeout_seconds") {
            guard timeout > 0, timeout <= Int64(Int32.max) else {
                throw JSONError(location: "spec.timeout_seconds", reason: "must be a positive number of seconds")
            }
            self.timeoutSeconds = Int(timeout)
        }
        var files: [SpecFile] = []
        if let value = reader.value("files") {
            guard let elements = value.arrayValue else { throw JSONError(location: "spec.files", reason: "must be an array") }
            for (index, element) in elements.enumerated() {
                do {
                    files.append(try SpecFile(json: element))
                } catch {
                    throw JSONError(location: "spec.files[\(index)]" + error.location.dropFirst("file".count), reason: error.reason)
                }
            }
        }
        self.files = files
    }

    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "execution_id": .string(executionID),
            "attempt": .number(Double(attempt)),
            "image": .string(image),
            "args": JSONValue(args),
            "env": JSONValue(env),
            "labels": JSONValue(labels),
            "network_mode": .string(networkMode),
        ]
        if let command { members["command"] = JSONValue(command) }
        if let workingDir { members["working_dir"] = .string(workingDir) }
        if let cpus { members["cpus"] = .number(cpus) }
        if let memoryBytes { members["memory_bytes"] = .number(Double(memoryBytes)) }
        if let pullPolicy { members["pull_policy"] = .string(pullPolicy.rawValue) }
        if let timeoutSeconds { members["timeout_seconds"] = .number(Double(timeoutSeconds)) }
        if !files.isEmpty { members["files"] = .array(files.map(\.json)) }
        return .object(members)
    }

    /// The user labels plus Berth's own, which mark the runtime object as this attempt's.
    public func runtimeLabels(server: String) -> [String: String] {
        var all = labels
        all[BerthLabel.execution] = executionID
        all[BerthLabel.attempt] = String(attempt)
        all[BerthLabel.server] = server
        return all
    }
}

/// The labels Berth puts on every runtime object it creates.
public enum BerthLabel {
    /// The execution id.
    public static let execution = "berth.execution"
    /// The attempt number.
    public static let attempt = "berth.attempt"
    /// The id of the Berth server (cluster) that owns the object.
    public static let server = "berth.server"
}
