public import Foundation

/// State changes across executions, for the event stream (`GET /v1/events`): those after a
/// position, optionally of one execution, host or owner, in `seq` order.
public struct EventQuery: Sendable, Hashable {
    /// Only events with a larger `seq`.
    public var afterSeq: Int64
    /// Only this execution's.
    public var executionID: UUID?
    /// Only events of executions placed on, or asking for, this host.
    public var host: String?
    /// Only events of this owner's executions.
    public var owner: String?
    /// At most this many (1…10000).
    public var limit: Int

    /// A query for events after `afterSeq`.
    public init(afterSeq: Int64, executionID: UUID? = nil, host: String? = nil, owner: String? = nil, limit: Int = 1000) {
        self.afterSeq = afterSeq
        self.executionID = executionID
        self.host = host
        self.owner = owner
        self.limit = limit
    }
}
