public import BerthPluginKit

/// Splits Docker's multiplexed log stream into chunks, stdout and stderr kept apart.
///
/// A non-TTY container's logs arrive as frames: one byte for the stream (1 stdout, 2 stderr),
/// three zero bytes, a big-endian 32-bit length, then that many bytes. With `timestamps=1`
/// each frame's payload starts with an RFC 3339 time and a space. Frames may be cut anywhere
/// by the transport, so the decoder keeps what it has not finished.
public struct DockerLogDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var offset = 0

    /// A decoder with nothing buffered.
    public init() {}

    /// Adds bytes from the transport and returns the chunks they complete.
    public mutating func feed(_ bytes: [UInt8]) throws(PluginError) -> [LogChunk] {
        buffer.append(contentsOf: bytes)
        var chunks: [LogChunk] = []
        while buffer.count - offset >= 8 {
            let kind = buffer[offset]
            let length = Int(buffer[offset + 4]) << 24 | Int(buffer[offset + 5]) << 16
                | Int(buffer[offset + 6]) << 8 | Int(buffer[offset + 7])
            guard buffer.count - offset - 8 >= length else { break }
            let payload = Array(buffer[(offset + 8)..<(offset + 8 + length)])
            offset += 8 + length
            let stream: LogStream
            switch kind {
            case 0, 1: stream = .stdout
            case 2: stream = .stderr
            default:
                throw PluginError(.internal, "malformed Docker log stream: unknown stream type \(kind)")
            }
            chunks.append(Self.chunk(stream: stream, payload: payload))
        }
        if offset > 65_536 || offset == buffer.count {
            buffer.removeFirst(offset)
            offset = 0
        }
        return chunks
    }

    /// Whether bytes of an unfinished frame are buffered.
    public var hasPartialFrame: Bool { buffer.count > offset }

    private static func chunk(stream: LogStream, payload: [UInt8]) -> LogChunk {
        if let space = payload.prefix(40).firstIndex(of: UInt8(ascii: " ")),
           let timestamp = Timestamp(rfc3339: String(decoding: payload[..<space], as: UTF8.self))
        {
            return LogChunk(stream: stream, data: Array(payload[(space + 1)...]), timestamp: timestamp)
        }
        return LogChunk(stream: stream, data: payload, timestamp: .now())
    }
}
