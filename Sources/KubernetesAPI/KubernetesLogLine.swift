import BerthHTTP
public import BerthPluginKit

/// Splits `pods/{name}/log?timestamps=true` output into chunks: each line starts with an
/// RFC 3339 timestamp with nanoseconds and a space, as the kubelet writes it.
public struct KubernetesLogLines: Sendable {
    private var lines = LineSplitter()
    /// The stream the chunks are reported on.
    public let stream: LogStream

    /// A splitter for output of `stream`.
    public init(stream: LogStream) {
        self.stream = stream
    }

    /// The complete lines in `bytes` (with what came before), as chunks.
    public mutating func feed(_ bytes: [UInt8]) -> [LogChunk] {
        lines.feed(bytes).compactMap { chunk($0, newline: true) }
    }

    /// What is left without a final newline, once the response has ended.
    public mutating func finish() -> [LogChunk] {
        lines.finish().flatMap { chunk($0, newline: false) }.map { [$0] } ?? []
    }

    private func chunk(_ line: [UInt8], newline: Bool) -> LogChunk? {
        guard let space = line.firstIndex(of: UInt8(ascii: " ")),
              let time = Timestamp(rfc3339: String(decoding: line[..<space], as: UTF8.self))
        else { return nil }
        return LogChunk(stream: stream, data: Array(line[(space + 1)...]) + (newline ? [UInt8(ascii: "\n")] : []), timestamp: time)
    }
}
