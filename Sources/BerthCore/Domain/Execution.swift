public import Foundation

/// One requested run, as stored: the submission plus its state and history counters.
public struct Execution: Sendable, Hashable, Codable, Identifiable {
    /// The execution's id.
    public var id: UUID
    /// An optional human-readable name; not unique.
    public var name: String?
    /// Who submitted the execution.
    public var owner: String
    /// The container image reference.
    public var image: String
    /// Overrides the image's entry point when set.
    public var command: [String]?
    /// Arguments passed to the command.
    public var args: [String]
    /// Environment variables.
    public var env: [String: String]
    /// The working directory inside the container.
    public var workingDir: String?
    /// The host the submitter asked for; `nil` lets the scheduler choose.
    public var targetHost: String?
    /// The host the scheduler placed the current attempt on; `nil` while queued.
    public var host: String?
    /// Free-form labels.
    public var labels: [String: String]
    /// CPU limit in cores.
    public var cpus: Double?
    /// Memory limit in bytes.
    public var memoryBytes: Int64?
    /// Wall-clock limit for one attempt, in seconds.
    public var timeoutSeconds: Int?
    /// Higher runs first.
    public var priority: Int
    /// When a failed or lost attempt is tried again.
    public var retry: RetryPolicy
    /// While `queued` for a retry: the scheduler does not place it before this time.
    public var notBefore: Date?
    /// Secret environment variables, sealed; opened only to start an attempt.
    public var sealedSecretEnv: [UInt8]?
    /// The names of the secret environment variables.
    public var secretEnvNames: [String] = []
    /// The inline config, the text of one JSON object (see ``NewExecution/config``).
    public var config: String?
    /// Whether the finished runtime objects stay on their host until retention.
    public var keep = false
    /// Called (POST, signed) when the execution ends.
    public var webhookURL: String?
    /// The template it was submitted from, if any.
    public var template: TemplateReference?
    /// The schedule and due time it was made for, if a schedule made it.
    public var schedule: ScheduleOrigin?
    /// Labels a host must have for the execution to run there, when it names no host (empty:
    /// none asked for).
    public var hostSelector: [String: String] = [:]
    /// When retention removed the logs and collected outputs (the execution had finished
    /// longer ago than `retention.finished_seconds`).
    public var outputsExpiredAt: Date?
    /// The current state.
    public var state: ExecutionState
    /// Why the execution entered its current state.
    public var stateReason: String?
    /// The exit code of the last attempt, once it exited.
    public var exitCode: Int32?
    /// The failure, when the execution failed for a reason other than its exit code.
    public var error: ExecutionFailure?
    /// How many attempts were begun (the number of the current attempt; 0 while never scheduled).
    public var attempts: Int
    /// The current attempt with its runtime handle, once the handle is recorded.
    public var currentAttempt: Attempt?
    /// When the execution was submitted.
    public var createdAt: Date
    /// When the execution last changed.
    public var updatedAt: Date
    /// When an attempt first started running.
    public var startedAt: Date?
    /// When the execution reached a terminal state.
    public var finishedAt: Date?

    /// Creates an execution value; the Store creates the real ones.
    public init(
        id: UUID, name: String? = nil, owner: String, image: String, command: [String]? = nil,
        args: [String] = [], env: [String: String] = [:], workingDir: String? = nil,
        targetHost: String? = nil, host: String? = nil, labels: [String: String] = [:],
        cpus: Double? = nil, memoryBytes: Int64? = nil, timeoutSeconds: Int? = nil,
        priority: Int = 0, retry: RetryPolicy = .none, notBefore: Date? = nil, state: ExecutionState = .queued, stateReason: String? = nil,
        exitCode: Int32? = nil, error: ExecutionFailure? = nil, attempts: Int = 0,
        currentAttempt: Attempt? = nil, createdAt: Date, updatedAt: Date,
        startedAt: Date? = nil, finishedAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.owner = owner
        self.image = image
        self.command = command
        self.args = args
        self.env = env
        self.workingDir = workingDir
        self.targetHost = targetHost
        self.host = host
        self.labels = labels
        self.cpus = cpus
        self.memoryBytes = memoryBytes
        self.timeoutSeconds = timeoutSeconds
        self.priority = priority
        self.retry = retry
        self.notBefore = notBefore
        self.state = state
        self.stateReason = stateReason
        self.exitCode = exitCode
        self.error = error
        self.attempts = attempts
        self.currentAttempt = currentAttempt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}
