public import BerthPluginKit
public import Foundation

/// What to read of an execution's log chunks, in `seq` order.
public struct LogQuery: Sendable, Hashable {
    /// The execution to read.
    public var executionID: UUID
    /// Only this stream; `nil` reads both.
    public var stream: LogStream?
    /// Only this attempt; `nil` reads all attempts.
    public var attempt: Int?
    /// Only chunks with a larger `seq` (what a follower passes to continue).
    public var afterSeq: Int64?
    /// Only chunks with a smaller `seq` (what a reader going backwards passes to continue).
    public var beforeSeq: Int64?
    /// Newest first (descending `seq`), for reading the end of the output.
    public var newestFirst = false
    /// Only chunks with a timestamp at or after this.
    public var since: Date?
    /// At most this many chunks (1…10000).
    public var limit: Int

    /// Creates a log query.
    /// - Parameters:
    ///   - executionID: The execution to read.
    ///   - stream: Only this stream.
    ///   - attempt: Only this attempt.
    ///   - afterSeq: Only chunks after this sequence number.
    ///   - since: Only chunks at or after this time.
    ///   - limit: At most this many chunks.
    public init(
        executionID: UUID, stream: LogStream? = nil, attempt: Int? = nil, afterSeq: Int64? = nil,
        since: Date? = nil, limit: Int = 1000
    ) {
        self.executionID = executionID
        self.stream = stream
        self.attempt = attempt
        self.afterSeq = afterSeq
        self.since = since
        self.limit = limit
    }
}
