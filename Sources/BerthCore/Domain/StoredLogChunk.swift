public import BerthPluginKit
public import Foundation

// `LogStream` (stdout | stderr) is BerthPluginKit's: the same stream names cross the plugin boundary.

/// A piece of an attempt's output, before the Store gives it a sequence number.
public struct NewLogChunk: Sendable, Hashable {
    /// The execution that wrote it.
    public var executionID: UUID
    /// The attempt that wrote it.
    public var attempt: Int
    /// Which stream it came from.
    public var stream: LogStream
    /// The raw bytes, not necessarily valid UTF-8 or whole lines.
    public var bytes: [UInt8]
    /// When the engine says the bytes were written.
    public var timestamp: Date

    /// Creates a chunk to append.
    /// - Parameters:
    ///   - executionID: The execution that wrote it.
    ///   - attempt: The attempt that wrote it.
    ///   - stream: Which stream it came from.
    ///   - bytes: The raw bytes.
    ///   - timestamp: When the bytes were written.
    public init(executionID: UUID, attempt: Int, stream: LogStream, bytes: [UInt8], timestamp: Date = Date()) {
        self.executionID = executionID
        self.attempt = attempt
        self.stream = stream
        self.bytes = bytes
        self.timestamp = timestamp
    }
}

/// A stored piece of an attempt's output (named apart from BerthPluginKit's `LogChunk`, which a plugin sends).
public struct StoredLogChunk: Sendable, Hashable {
    /// The execution that wrote it.
    public var executionID: UUID
    /// The attempt that wrote it.
    public var attempt: Int
    /// Which stream it came from.
    public var stream: LogStream
    /// Position within the execution's output: gapless from 1 and increasing in commit order,
    /// so a follower that reads "after seq N" never misses a chunk.
    public var seq: Int64
    /// The raw bytes.
    public var bytes: [UInt8]
    /// When the engine says the bytes were written.
    public var timestamp: Date

    /// Creates a stored chunk value; the Store creates the real ones.
    public init(executionID: UUID, attempt: Int, stream: LogStream, seq: Int64, bytes: [UInt8], timestamp: Date) {
        self.executionID = executionID
        self.attempt = attempt
        self.stream = stream
        self.seq = seq
        self.bytes = bytes
        self.timestamp = timestamp
    }
}

extension NewLogChunk {
    /// The most bytes ``coalesced(_:upTo:)`` joins into one chunk.
    public static let coalescedBytes = 64 * 1024

    /// `chunks` with neighbours of the same execution, attempt and stream joined, up to `limit`
    /// bytes each (a larger chunk stays whole): an engine sends one chunk per line, and one row
    /// per line made storing output cost more than producing it. A joined chunk carries the
    /// time of its last piece, so a `since` query that would have returned any of its pieces
    /// returns it (with, at most, a few earlier lines of the same write batch).
    ///
    /// A piece joins only a chunk whose time is earlier than its own (to the microsecond, as the
    /// Store keeps times): so every piece at the newest time ends a stored chunk of its own, and
    /// a pump that resumes after a failover still counts the pieces it must skip at that time
    /// (``LogResumePoint``) from the stored chunks.
    public static func coalesced(_ chunks: [NewLogChunk], upTo limit: Int = coalescedBytes) -> [NewLogChunk] {
        func micros(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down)) }
        var joined: [NewLogChunk] = []
        joined.reserveCapacity(min(chunks.count, 64))
        for chunk in chunks {
            if var last = joined.last, last.executionID == chunk.executionID, last.attempt == chunk.attempt,
               last.stream == chunk.stream, last.bytes.count + chunk.bytes.count <= limit,
               micros(last.timestamp) < micros(chunk.timestamp) {
                last.bytes += chunk.bytes
                last.timestamp = chunk.timestamp
                joined[joined.count - 1] = last
            } else {
                joined.append(chunk)
            }
        }
        return joined
    }
}
