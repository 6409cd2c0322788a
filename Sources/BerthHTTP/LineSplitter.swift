/// Splits a byte stream into lines: Docker's `/events` and pull progress, Kubernetes watches
/// and pod logs.
public struct LineSplitter: Sendable {
    private var pending: [UInt8] = []

    /// A splitter with nothing pending.
    public init() {}

    /// Adds bytes and returns the complete, non-empty lines.
    public mutating func feed(_ bytes: [UInt8]) -> [[UInt8]] {
        pending.append(contentsOf: bytes)
        var lines: [[UInt8]] = []
        var start = 0
        for index in pending.indices where pending[index] == UInt8(ascii: "\n") {
            if index > start { lines.append(Array(pending[start..<index])) }
            start = index + 1
        }
        pending.removeFirst(start)
        return lines
    }

    /// What is left without a final newline.
    public mutating func finish() -> [UInt8]? {
        defer { pending = [] }
        return pending.isEmpty ? nil : pending
    }
}
