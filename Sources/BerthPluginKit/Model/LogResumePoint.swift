/// Where a reader of an attempt's logs stands, so that it can ask again from there after a
/// lost stream or for the next round of polling, without a gap and without a repeat.
///
/// `since` is inclusive, so asking again from the newest timestamp seen returns the chunks
/// that carry it once more; the point counts how many of those it delivered and skips as many
/// at the start of the next pass. Call ``beginPass()`` before each new request and ``admit(_:)``
/// for every chunk it returns, in order.
public struct LogResumePoint: Sendable, Hashable {
    /// The `since` for the next request: the newest timestamp delivered (or the first request's).
    public private(set) var since: Timestamp?
    /// Chunks delivered that carry exactly `since`.
    private var deliveredAtSince = 0
    /// Repeats still to skip in the current pass.
    private var toSkip = 0
    /// Nanoseconds to which timestamps are compared (1: exact).
    private let granularity: Int64

    /// A point before any chunk, at or after `since` when given.
    public init(since: Timestamp? = nil) {
        self.since = since
        self.granularity = 1
    }

    /// A point after chunks stored elsewhere at a coarser precision (PostgreSQL keeps
    /// microseconds): `delivered` of them carry `since` once truncated to `granularity`
    /// nanoseconds, and timestamps are compared at that precision from then on.
    public init(since: Timestamp, alreadyDelivered delivered: Int, granularity: Int64) {
        self.granularity = max(1, granularity)
        self.since = Timestamp(nanosecondsSinceEpoch: since.nanosecondsSinceEpoch - since.nanosecondsSinceEpoch % self.granularity)
        self.deliveredAtSince = delivered
    }

    private func truncated(_ time: Timestamp) -> Timestamp {
        Timestamp(nanosecondsSinceEpoch: time.nanosecondsSinceEpoch - time.nanosecondsSinceEpoch % granularity)
    }

    /// Starts reading a new response requested with ``since``.
    public mutating func beginPass() {
        toSkip = deliveredAtSince
    }

    /// Whether `chunk` is new (and records it when it is).
    public mutating func admit(_ chunk: LogChunk) -> Bool {
        let time = truncated(chunk.timestamp)
        if toSkip > 0, time == since {
            toSkip -= 1
            return false
        }
        toSkip = 0
        guard let newest = since, time <= newest else {
            since = time
            deliveredAtSince = 1
            return true
        }
        if time == newest { deliveredAtSince += 1 }
        return true
    }
}
