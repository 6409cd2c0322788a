import BerthPluginKit
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writing to the standard streams, unbuffered, so output interleaves as the execution wrote it.
enum Terminal {
    /// Writes `bytes` to file descriptor `fd`, retrying short writes.
    static func write(_ bytes: some Collection<UInt8>, to fd: Int32) {
        let array = Array(bytes)
        array.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    /// Writes `text` to stdout.
    static func out(_ text: String) {
        write(Array(text.utf8), to: 1)
    }

    /// Writes `text` and a newline to stdout.
    static func line(_ text: String = "") {
        out(text + "\n")
    }

    /// Writes `berth: <message>` to stderr.
    static func error(_ message: String) {
        write(Array("berth: \(message)\n".utf8), to: 2)
    }

    /// Prints `value` as indented JSON with sorted keys.
    static func printJSON(_ value: JSONValue) {
        line(pretty(value))
    }

    /// `value` as indented JSON with sorted keys.
    static func pretty(_ value: JSONValue, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .array(let elements):
            guard !elements.isEmpty else { return "[]" }
            return "[\n" + elements.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let members):
            guard !members.isEmpty else { return "{}" }
            let lines = members.keys.sorted().map { key in
                "\(inner)\(JSONValue.string(key).jsonText): \(pretty(members[key]!, indent: inner))"
            }
            return "{\n" + lines.joined(separator: ",\n") + "\n\(indent)}"
        default:
            return value.jsonText
        }
    }

    /// Rows as columns separated by three spaces; the last column is not padded. `paint`
    /// decorates a body cell after it was padded (so escape sequences never skew the columns).
    static func table(
        _ header: [String], _ rows: [[String]], paint: (_ column: Int, _ cell: String, _ padded: String) -> String = { $2 }
    ) -> String {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (column, cell) in row.enumerated() where column < widths.count {
                widths[column] = max(widths[column], cell.count)
            }
        }
        return all.enumerated().map { index, row in
            row.enumerated().map { column, cell in
                let padded = column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                return index == 0 ? padded : paint(column, cell, padded)
            }.joined(separator: "   ")
        }.joined(separator: "\n")
    }

    /// Labelled lines: each label padded to the longest, two spaces, then its value.
    static func fields(_ rows: [(label: String, value: String)]) -> String {
        let width = rows.map(\.label.count).max() ?? 0
        return rows.map { $0.label.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.value }.joined(separator: "\n")
    }

    /// A short duration: `45s`, `3m12s`, `2h5m`, `4d3h`.
    static func duration(_ seconds: Double) -> String {
        let total = max(0, Int(seconds.rounded(.down)))
        switch total {
        case ..<60: return "\(total)s"
        case ..<3600: return "\(total / 60)m\(total % 60)s"
        case ..<86_400: return "\(total / 3600)h\(total % 3600 / 60)m"
        default: return "\(total / 86_400)d\(total % 86_400 / 3600)h"
        }
    }
}
