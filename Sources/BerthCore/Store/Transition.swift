public import Foundation

/// Fields written together with a state change. `nil` leaves a field as it is.
public struct TransitionChanges: Sendable, Hashable {
    /// The host the execution is placed on.
    public var host: String?
    /// The attempt's exit code.
    public var exitCode: Int32?
    /// The failure description.
    public var error: ExecutionFailure?
    /// The attempt number current at the change (recorded on the event; updates `attempts` if larger).
    public var attempt: Int?
    /// When the execution started running; defaults to now on the first change to `running`.
    public var startedAt: Date?
    /// When the execution finished; defaults to now on a change to a terminal state.
    public var finishedAt: Date?
    /// On a change back to `queued` (a retry): the scheduler does not place it before this time.
    public var notBefore: Date?
    /// On a change back to `queued`: the current attempt provably never started, so its number
    /// is used again by the next attempt and it does not count against the retry policy.
    public var attemptNeverStarted: Bool = false

    /// Creates a set of changes.
    /// - Parameters:
    ///   - host: The host the execution is placed on.
    ///   - exitCode: The attempt's exit code.
    ///   - error: The failure description.
    ///   - attempt: The attempt number current at the change.
    ///   - startedAt: When the execution started running.
    ///   - finishedAt: When the execution finished.
    public init(
        host: String? = nil, exitCode: Int32? = nil, error: ExecutionFailure? = nil, attempt: Int? = nil,
        startedAt: Date? = nil, finishedAt: Date? = nil
    ) {
        self.host = host
        self.exitCode = exitCode
        self.error = error
        self.attempt = attempt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }

    /// The changes of a retry: back to `queued`, placed no earlier than `notBefore`.
    /// - Parameters:
    ///   - notBefore: When the scheduler may place it again.
    ///   - attemptNeverStarted: Whether the current attempt's number is used again.
    public static func retry(notBefore: Date?, attemptNeverStarted: Bool = false) -> TransitionChanges {
        var changes = TransitionChanges()
        changes.notBefore = notBefore
        changes.attemptNeverStarted = attemptNeverStarted
        return changes
    }

    /// No change besides the state.
    public static let none = TransitionChanges()
}

/// The result of ``Store/transition(_:from:to:reason:changes:)``.
public enum TransitionOutcome: Sendable, Hashable {
    /// The change was written, with its event; the execution as it is now.
    case won(Execution)
    /// The execution was not in the expected state: nothing was written.
    /// Carries the state found, or `nil` if the execution does not exist.
    case lost(current: ExecutionState?)

    /// Whether the change was written.
    public var didWin: Bool {
        if case .won = self { return true }
        return false
    }

    /// The execution after the change, if the change was written.
    public var execution: Execution? {
        if case .won(let execution) = self { return execution }
        return nil
    }
}
