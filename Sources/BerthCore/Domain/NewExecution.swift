public import Foundation

/// What a submitter provides to create an ``Execution``.
///
/// The Store assigns the id (unless given), the `queued` state and the timestamps.
public struct NewExecution: Sendable, Hashable, Codable {
    /// The id to use; `nil` lets the Store generate one.
    public var id: UUID?
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
    /// The host to run on; `nil` lets the scheduler choose.
    public var targetHost: String?
    /// Free-form labels, used for filtering.
    public var labels: [String: String]
    /// CPU limit in cores.
    public var cpus: Double?
    /// Memory limit in bytes.
    public var memoryBytes: Int64?
    /// Wall-clock limit for one attempt, in seconds.
    public var timeoutSeconds: Int?
    /// Higher runs first; ties run in submission order.
    public var priority: Int
    /// When a failed or lost attempt is tried again.
    public var retry: RetryPolicy
    /// Secret environment variables, sealed by the API's ``SecretSealer``; `nil` for none.
    public var sealedSecretEnv: [UInt8]?
    /// The names of the secret environment variables (their values never leave the seal).
    public var secretEnvNames: [String]
    /// The inline config, the text of one JSON object: written into each attempt's container
    /// as a file before it starts (`inputs.config_path`).
    public var config: String?
    /// Leave the finished runtime object on its host (until retention) instead of removing it.
    public var keep = false
    /// Called (POST, signed) when the execution ends.
    public var webhookURL: String?
    /// The template it is submitted from, if any.
    public var template: TemplateReference?
    /// The schedule and due time it was made for, if a schedule made it.
    public var schedule: ScheduleOrigin?
    /// Labels a host must have for the execution to run there, when it names no host (empty:
    /// none asked for).
    public var hostSelector: [String: String] = [:]

    /// Creates a submission.
    /// - Parameters:
    ///   - id: The id to use; `nil` lets the Store generate one.
    ///   - name: An optional human-readable name.
    ///   - owner: Who submits the execution.
    ///   - image: The container image reference.
    ///   - command: Overrides the image's entry point when set.
    ///   - args: Arguments passed to the command.
    ///   - env: Environment variables.
    ///   - workingDir: The working directory inside the container.
    ///   - targetHost: The host to run on; `nil` lets the scheduler choose.
    ///   - labels: Free-form labels.
    ///   - cpus: CPU limit in cores.
    ///   - memoryBytes: Memory limit in bytes.
    ///   - timeoutSeconds: Wall-clock limit for one attempt.
    ///   - priority: Higher runs first.
    ///   - retry: When a failed or lost attempt is tried again.
    ///   - sealedSecretEnv: The sealed secret environment.
    ///   - secretEnvNames: The secret variables' names.
    public init(
        id: UUID? = nil,
        name: String? = nil,
        owner: String,
        image: String,
        command: [String]? = nil,
        args: [String] = [],
        env: [String: String] = [:],
        workingDir: String? = nil,
        targetHost: String? = nil,
        labels: [String: String] = [:],
        cpus: Double? = nil,
        memoryBytes: Int64? = nil,
        timeoutSeconds: Int? = nil,
        priority: Int = 0,
        retry: RetryPolicy = .none,
        sealedSecretEnv: [UInt8]? = nil,
        secretEnvNames: [String] = []
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
        self.labels = labels
        self.cpus = cpus
        self.memoryBytes = memoryBytes
        self.timeoutSeconds = timeoutSeconds
        self.priority = priority
        self.retry = retry
        self.sealedSecretEnv = sealedSecretEnv
        self.secretEnvNames = secretEnvNames
    }
}
