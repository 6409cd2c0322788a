/// Whether a host's engine answers, and what it is.
public struct Health: Sendable, Hashable, JSONRepresentable {
    /// The engine answers and can run work.
    public var ok: Bool
    /// What the plugin found, in words (`engine 20.10.24 ready`, `cannot reach /run/docker.sock`).
    public var message: String
    /// The engine's version, when known.
    public var engineVersion: String?
    /// CPUs the engine has, when known.
    public var cpus: Double?
    /// Memory the engine has, in bytes, when known.
    public var memoryBytes: Int64?

    /// A health report.
    public init(ok: Bool, message: String, engineVersion: String? = nil, cpus: Double? = nil, memoryBytes: Int64? = nil) {
        self.ok = ok
        self.message = message
        self.engineVersion = engineVersion
        self.cpus = cpus
        self.memoryBytes = memoryBytes
    }

    public init(json: JSONValue) throws(JSONError) {
        let reader = try JSONObjectReader(json, path: "health")
        guard let ok = try reader.optionalBool("ok") else {
            throw JSONError(location: "health.ok", reason: "is required")
        }
        self.ok = ok
        self.message = try reader.optionalString("message") ?? ""
        self.engineVersion = try reader.optionalString("engine_version")
        self.cpus = try reader.optionalDouble("cpus")
        self.memoryBytes = try reader.optionalInt("memory_bytes")
    }

    public var json: JSONValue {
        var members: [String: JSONValue] = ["ok": .bool(ok), "message": .string(message)]
        if let engineVersion { members["engine_version"] = .string(engineVersion) }
        if let cpus { members["cpus"] = .number(cpus) }
        if let memoryBytes { members["memory_bytes"] = .number(Double(memoryBytes)) }
        return .object(members)
    }
}

/// How much work a host takes at once, and how much it runs now.
public struct Capacity: Sendable, Hashable, JSONRepresentable {
    /// Attempts the host runs at once at most.
    public var maxConcurrent: Int
    /// Berth attempts running on it now.
    public var running: Int
    /// CPUs, when known.
    public var cpus: Double?
    /// Memory in bytes, when known.
    public var memoryBytes: Int64?

    /// A capacity report.
    public init(maxConcurrent: Int, running: Int, cpus: Double? = nil, memoryBytes: Int64? = nil) {
        self.maxConcurrent = maxConcurrent
        self.running = running
        self.cpus = cpus
        self.memoryBytes = memoryBytes
    }

    public init(json: JSONValue) throws(JSONError) {
        let reader = try JSONObjectReader(json, path: "capacity")
        self.maxConcurrent = Int(try reader.int("max_concurrent"))
        self.running = Int(try reader.optionalInt("running") ?? 0)
        self.cpus = try reader.optionalDouble("cpus")
        self.memoryBytes = try reader.optionalInt("memory_bytes")
    }

    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "max_concurrent": .number(Double(maxConcurrent)), "running": .number(Double(running)),
        ]
        if let cpus { members["cpus"] = .number(cpus) }
        if let memoryBytes { members["memory_bytes"] = .number(Double(memoryBytes)) }
        return .object(members)
    }
}
