import BerthPluginKit

/// Takes the `::berth::progress {json}` lines out of an execution's stdout as it arrives in
/// chunks, for a terminal that shows them as a progress bar instead.
///
/// A line counts only if it starts with the prefix (as the server's `ReportLineScanner` reads
/// it). Everything else passes through at once, even a line without its newline yet; only a
/// partial line that may still turn out to be a progress line is held back until its newline.
struct ProgressLineFilter {
    static let prefix = Array("::berth::progress ".utf8)

    /// A partial line held back because it starts like a progress line.
    private var held: [UInt8] = []
    /// Whether the next byte starts a line.
    private var atLineStart = true

    /// What `chunk` leaves to print, and the progress objects it carried (in order).
    mutating func feed(_ chunk: some Collection<UInt8>) -> (output: [UInt8], reports: [JSONValue]) {
        var output: [UInt8] = []
        var reports: [JSONValue] = []
        var rest = held + Array(chunk)
        held = []
        while !rest.isEmpty {
            let newline = rest.firstIndex(of: UInt8(ascii: "\n"))
            let end = newline.map { $0 + 1 } ?? rest.count
            let segment = rest[..<end]
            if atLineStart, Self.mayBeProgress(segment) {
                guard newline != nil else {
                    held = Array(segment)
                    break
                }
                if let object = Self.report(segment) {
                    reports.append(object)
                } else {
                    output += segment
                }
            } else {
                output += segment
            }
            atLineStart = newline != nil
            rest.removeFirst(end)
        }
        return (output, reports)
    }

    /// What is still held back, for when the output ends.
    mutating func flush() -> [UInt8] {
        defer { held = [] }
        return held
    }

    /// Whether a line's start is, or may still become, the progress prefix.
    private static func mayBeProgress(_ start: ArraySlice<UInt8>) -> Bool {
        let count = min(start.count, prefix.count)
        return start.prefix(count).elementsEqual(prefix.prefix(count))
    }

    /// The object of a whole progress line (with its newline), if it holds one.
    private static func report(_ line: ArraySlice<UInt8>) -> JSONValue? {
        guard line.count > prefix.count else { return nil }
        var text = line.dropFirst(prefix.count)
        while let last = text.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { text.removeLast() }
        guard let object = try? JSONValue(parsing: text), object.objectValue != nil else { return nil }
        return object
    }
}
