public import Foundation

/// One try of an execution on one host, with the engine's runtime handle.
///
/// The handle is stored before the start is acknowledged, so a restarted server can find,
/// adopt or clean up what the attempt left on the engine.
public struct Attempt: Sendable, Hashable, Codable {
    /// The execution this attempt belongs to.
    public var executionID: UUID
    /// 1 for the first attempt, counting up with each retry.
    public var number: Int
    /// The target host the attempt runs on.
    public var host: String
    /// The engine's reference to the attempt (container id, pod name) as raw JSON; opaque to the host.
    public var runtimeHandle: String
    /// When the attempt was started.
    public var startedAt: Date
    /// When the attempt ended, once it did.
    public var finishedAt: Date?

    /// Creates an attempt record.
    /// - Parameters:
    ///   - executionID: The execution this attempt belongs to.
    ///   - number: The attempt number, from 1.
    ///   - host: The target host the attempt runs on.
    ///   - runtimeHandle: The engine's reference as raw JSON.
    ///   - startedAt: When the attempt was started.
    ///   - finishedAt: When the attempt ended.
    public init(
        executionID: UUID, number: Int, host: String, runtimeHandle: String,
        startedAt: Date = Date(), finishedAt: Date? = nil
    ) {
        self.executionID = executionID
        self.number = number
        self.host = host
        self.runtimeHandle = runtimeHandle
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }
}
