public import Foundation

/// The outputs collected from one attempt's container after it ended: a tar archive of
/// `/berth/out`, stored in chunks (``Store/artifactChunks(of:attempt:afterSeq:limit:)``).
public struct ArtifactSet: Sendable, Hashable {
    /// The execution.
    public var executionID: UUID
    /// The attempt whose container they came from.
    public var attempt: Int
    /// The archive's size so far.
    public var bytes: Int64
    /// Whether the whole archive is stored; `false` while collecting, and with ``error``.
    public var complete: Bool
    /// Why the archive is not kept (over the cap, or the collection failed).
    public var error: String?
    /// When the collection began.
    public var at: Date

    /// A set.
    public init(executionID: UUID, attempt: Int, bytes: Int64, complete: Bool, error: String?, at: Date) {
        self.executionID = executionID
        self.attempt = attempt
        self.bytes = bytes
        self.complete = complete
        self.error = error
        self.at = at
    }
}
