/// What a target host accepts, from its `policy` in the configuration: which images, and at
/// most how many cpus, how much memory and how long. A submission that breaks a rule is
/// refused (403) naming the rule and the host.
///
/// Berth itself gives every container no network, no host mounts and no privileges; a
/// submission cannot ask for them, so no policy can loosen that.
public struct HostPolicy: Sendable, Hashable {
    /// Image references the host runs, as glob patterns (`*` any run of characters, `?` one);
    /// empty allows every image.
    public var images: [String]
    /// The most cpus a submission may ask for.
    public var maxCPUs: Double?
    /// The most memory a submission may ask for, in MiB.
    public var maxMemoryMB: Int64?
    /// The longest `timeout_seconds`; with it set, a submission must give a timeout.
    public var maxTimeoutSeconds: Int?

    /// A policy; with no arguments it allows everything Berth allows.
    public init(images: [String] = [], maxCPUs: Double? = nil, maxMemoryMB: Int64? = nil, maxTimeoutSeconds: Int? = nil) {
        self.images = images
        self.maxCPUs = maxCPUs
        self.maxMemoryMB = maxMemoryMB
        self.maxTimeoutSeconds = maxTimeoutSeconds
    }

    /// A broken rule: its name (the policy key) and what is wrong, in words.
    public struct Violation: Sendable, Hashable {
        /// The policy key: `images`, `max_cpus`, `max_memory_mb`, `max_timeout_seconds`.
        public var rule: String
        /// The submission field it concerns.
        public var field: String
        /// What is wrong.
        public var message: String
    }

    /// The first rule `execution` breaks, or `nil`.
    public func violation(by execution: NewExecution) -> Violation? {
        if !images.isEmpty, !images.contains(where: { Self.glob($0, matches: execution.image) }) {
            return Violation(rule: "images", field: "image", message: "image '\(execution.image)' matches none of \(images.joined(separator: ", "))")
        }
        if let maxCPUs {
            guard let cpus = execution.cpus else {
                return Violation(rule: "max_cpus", field: "cpus", message: "cpus must be given, at most \(maxCPUs)")
            }
            if cpus > maxCPUs { return Violation(rule: "max_cpus", field: "cpus", message: "cpus \(cpus) is more than \(maxCPUs)") }
        }
        if let maxMemoryMB {
            let limit = maxMemoryMB << 20
            guard let memory = execution.memoryBytes else {
                return Violation(rule: "max_memory_mb", field: "memory_mb", message: "memory_mb must be given, at most \(maxMemoryMB)")
            }
            if memory > limit {
                return Violation(rule: "max_memory_mb", field: "memory_mb", message: "memory_mb \(memory >> 20) is more than \(maxMemoryMB)")
            }
        }
        if let maxTimeoutSeconds {
            guard let timeout = execution.timeoutSeconds else {
                return Violation(rule: "max_timeout_seconds", field: "timeout_seconds", message: "timeout_seconds must be given, at most \(maxTimeoutSeconds)")
            }
            if timeout > maxTimeoutSeconds {
                return Violation(rule: "max_timeout_seconds", field: "timeout_seconds", message: "timeout_seconds \(timeout) is more than \(maxTimeoutSeconds)")
            }
        }
        return nil
    }

    /// Whether `text` matches the glob `pattern` (`*`: any run of characters, `?`: one).
    public static func glob(_ pattern: String, matches text: String) -> Bool {
        let p = Array(pattern.unicodeScalars)
        let t = Array(text.unicodeScalars)
        var pi = 0, ti = 0
        var star = -1, resume = 0
        while ti < t.count {
            if pi < p.count, p[pi] == "?" || p[pi] == t[ti] {
                pi += 1
                ti += 1
            } else if pi < p.count, p[pi] == "*" {
                star = pi
                resume = ti
                pi += 1
            } else if star >= 0 {
                pi = star + 1
                resume += 1
                ti = resume
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
