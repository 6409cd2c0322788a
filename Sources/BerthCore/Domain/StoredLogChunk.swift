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
