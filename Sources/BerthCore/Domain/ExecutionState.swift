/// The life-cycle state of an ``Execution``.
///
/// The raw values are the snake_case strings stored in PostgreSQL and shown over REST.
/// Allowed changes follow the state diagram in `docs/architecture.md`:
///
/// ```
/// queued ─► scheduled ─► starting ─► running ─► succeeded | failed | timed_out
///    └──────────┴────────────┴──────────┴─────► cancelled
///               └────────────┴──────────┴─────► lost
///    ◄──────────┴────────────┴──────────┘       (retry: back to queued for another attempt)
/// ```
///
/// `scheduled` and `starting` may also go to `failed` (an engine error, or a start that
/// failed). A failed or lost attempt that its ``RetryPolicy`` allows to retry goes back to
/// `queued` instead of ending. Terminal states never change.
public enum ExecutionState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Accepted and waiting for the scheduler (again, after a failed attempt that is retried).
    case queued
    /// Placed on a host by the scheduler; the attempt is not started yet.
    case scheduled
    /// The backend was asked to start the attempt.
    case starting
    /// The engine reports the attempt running.
    case running
    /// Exited with code 0.
    case succeeded
    /// Exited with a non-zero code, failed to start, or hit an engine error.
    case failed
    /// The deadline passed and the attempt was stopped.
    case timedOut = "timed_out"
    /// A stop was requested.
    case cancelled
    /// The host was gone past its grace period.
    case lost

    /// Whether the state is final: a terminal state never changes.
    public var isTerminal: Bool {
        switch self {
        case .succeeded, .failed, .timedOut, .cancelled, .lost: true
        case .queued, .scheduled, .starting, .running: false
        }
    }

    /// The states this state may change to; empty for terminal states.
    public var successors: Set<ExecutionState> {
        switch self {
        case .queued: [.scheduled, .cancelled]
        case .scheduled: [.starting, .cancelled, .lost, .failed, .queued]
        case .starting: [.running, .failed, .cancelled, .lost, .queued]
        case .running: [.succeeded, .failed, .timedOut, .cancelled, .lost, .queued]
        case .succeeded, .failed, .timedOut, .cancelled, .lost: []
        }
    }

    /// Whether a change from this state to `next` is allowed by the state diagram.
    ///
    /// - Parameter next: The state to change to.
    /// - Returns: `false` for any change out of a terminal state and for a change to the same state.
    public func canTransition(to next: ExecutionState) -> Bool {
        successors.contains(next)
    }

    /// The states that are not terminal.
    public static let active: Set<ExecutionState> = [.queued, .scheduled, .starting, .running]

    /// The terminal states.
    public static let terminal: Set<ExecutionState> = [.succeeded, .failed, .timedOut, .cancelled, .lost]
}
