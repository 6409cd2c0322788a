public import Foundation

/// One state change of an execution, as written in the same transaction as the change.
public struct ExecutionEvent: Sendable, Hashable, Codable {
    /// A database-wide, increasing sequence number; also the event's id.
    public var seq: Int64
    /// The execution that changed.
    public var executionID: UUID
    /// The state before the change; `nil` for the creating event.
    public var fromState: ExecutionState?
    /// The state after the change.
    public var toState: ExecutionState
    /// Why the change happened.
    public var reason: String
    /// When the change was written.
    public var at: Date
    /// The attempt number current at the change, if any.
    public var attempt: Int?

    /// Creates an event value; the Store creates the real ones.
    public init(
        seq: Int64, executionID: UUID, fromState: ExecutionState?, toState: ExecutionState,
        reason: String, at: Date, attempt: Int?
    ) {
        self.seq = seq
        self.executionID = executionID
        self.fromState = fromState
        self.toState = toState
        self.reason = reason
        self.at = at
        self.attempt = attempt
    }
}
