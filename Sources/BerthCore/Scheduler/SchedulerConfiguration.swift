/// How the ``Scheduler`` places executions and how it elects its leader.
public struct SchedulerConfiguration: Sendable {
    /// The advisory-lock key every Berth server competes for (`"berth_sc"` as ASCII bytes).
    public static let defaultLeaderLockKey: Int64 = 0x6265_7274_685f_7363

    /// The host for executions that name no `targetHost`; `nil` makes them wait.
    public var defaultHost: String?
    /// The most executions each host holds at once (`scheduled`, `starting`, `running`), by host
    /// name. A host missing here uses its plugin's `capacity().maxConcurrent`.
    public var maxConcurrent: [String: Int]
    /// Each host's labels, for executions that select hosts by label.
    public var hostLabels: [String: [String: String]] = [:]
    /// The advisory-lock key that elects the leader; equal on every server of a deployment.
    public var leaderLockKey: Int64
    /// A safety re-check when no NOTIFY comes (NOTIFY wakes the leader at once).
    public var fallbackInterval: Duration
    /// How often a server that is not the leader tries to become it.
    public var leaderRetryInterval: Duration
    /// Seconds between the stop signal and the kill when an attempt is cancelled or timed out.
    public var stopGraceSeconds: Double
    /// How long a host's health answer is trusted before it is asked again.
    public var healthInterval: Duration
    /// How many queued executions one pass looks at, at most.
    public var batchSize: Int

    /// A configuration; every other field has its default.
    /// - Parameters:
    ///   - defaultHost: The host for executions that name none.
    ///   - maxConcurrent: Per-host limits that override the plugins' capacity.
    public init(defaultHost: String? = nil, maxConcurrent: [String: Int] = [:]) {
        self.defaultHost = defaultHost
        self.maxConcurrent = maxConcurrent
        self.leaderLockKey = Self.defaultLeaderLockKey
        self.fallbackInterval = .seconds(2)
        self.leaderRetryInterval = .seconds(2)
        self.stopGraceSeconds = 10
        self.healthInterval = .seconds(5)
        self.batchSize = 500
    }
}
