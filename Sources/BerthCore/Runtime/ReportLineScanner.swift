import BerthPluginKit

/// Finds the lines `::berth::progress {json}` and `::berth::result {json}` in an attempt's
/// stdout, as the log pump reads it chunk by chunk (a line may span chunks).
///
/// Only lines that start with `:` are copied while they arrive; every other line is skipped to
/// its newline, so ordinary output costs one scan for `\n`. A report line longer than
/// ``maxLineBytes`` is not a report.
struct ReportLineScanner {
    /// What a report line held.
    enum Finding: Equatable {
        /// A well-formed report.
        case report(ExecutionReport.Kind, [String: JSONValue])
        /// A line with a report prefix whose rest is not a JSON object Berth can keep.
        case invalid(ExecutionReport.Kind, reason: String)
    }

    /// The longest report line, newline excluded.
    static let maxLineBytes = 64 * 1024
    private static let prefixes: [(ExecutionReport.Kind, [UInt8])] = ExecutionReport.Kind.allCases.map {
        ($0, Array("::berth::\($0.rawValue) ".utf8))
    }

    /// The current line, while it may still be a report; `nil` while skipping a line.
    private var line: [UInt8]?
    private var atLineStart = true

    /// Scans `bytes`, the next part of the stream; returns what the lines it completed held.
    mutating func feed(_ bytes: [UInt8]) -> [Finding] {
        var findings: [Finding] = []
        var index = 0
        while index < bytes.count {
            if atLineStart {
                line = bytes[index] == UInt8(ascii: ":") ? [] : nil
                atLineStart = false
            }
            let newline = bytes[index...].firstIndex(of: UInt8(ascii: "\n"))
            let end = newline ?? bytes.count
            if var current = line {
                line = nil  // no copy-on-write while appending
                if current.count + (end - index) <= Self.maxLineBytes {
                    current.append(contentsOf: bytes[index..<end])
                    line = current
                }
            }
            guard let newline else { break }
            if let complete = line, let finding = Self.finding(in: complete) { findings.append(finding) }
            line = nil
            atLineStart = true
            index = newline + 1
        }
        return findings
    }

    /// The stream ended: what a last line without a newline held.
    mutating func finish() -> [Finding] {
        defer { line = nil; atLineStart = true }
        return line.flatMap(Self.finding(in:)).map { [$0] } ?? []
    }

    /// What `line` (no newline) holds, if it starts with a report prefix.
    static func finding(in line: [UInt8]) -> Finding? {
        var line = line[...]
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        guard let (kind, prefix) = prefixes.first(where: { line.starts(with: $0.1) }) else { return nil }
        let document: JSONValue
        do {
            document = try JSONValue(parsing: line.dropFirst(prefix.count))
        } catch {
            return .invalid(kind, reason: "not JSON: \(error)")
        }
        guard case .object(let members) = document else {
            return .invalid(kind, reason: "not a JSON object")
        }
        if document.containsNUL {
            return .invalid(kind, reason: "a string holds a NUL character, which cannot be stored")
        }
        return .report(kind, members)
    }
}
