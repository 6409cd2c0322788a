import BerthPluginKit
import Testing

/// Resuming a log read from the newest timestamp seen: no gap, no repeat.
@Suite("Log resume point")
struct LogResumePointTests {
    private func chunk(_ text: String, at nanoseconds: Int64) -> LogChunk {
        LogChunk(stream: .stdout, data: Array(text.utf8), timestamp: Timestamp(nanosecondsSinceEpoch: nanoseconds))
    }

    /// What an engine answers for `since` (inclusive) out of everything written so far.
    private func engine(_ written: [LogChunk], since: Timestamp?) -> [LogChunk] {
        written.filter { since == nil || $0.timestamp >= since! }
    }

    @Test("chunks that share the newest timestamp are not repeated on the next pass, and new ones with it are kept")
    func sameTimestamp() {
        var written = [chunk("a", at: 10), chunk("b", at: 20), chunk("c", at: 20)]
        var point = LogResumePoint()
        var delivered: [String] = []
        point.beginPass()
        for chunk in engine(written, since: point.since) where point.admit(chunk) { delivered.append(chunk.text) }
        #expect(delivered == ["a", "b", "c"])
        #expect(point.since == Timestamp(nanosecondsSinceEpoch: 20))

        written += [chunk("d", at: 20), chunk("e", at: 30)]
        point.beginPass()
        for chunk in engine(written, since: point.since) where point.admit(chunk) { delivered.append(chunk.text) }
        #expect(delivered == ["a", "b", "c", "d", "e"])

        point.beginPass()
        for chunk in engine(written, since: point.since) where point.admit(chunk) { delivered.append(chunk.text) }
        #expect(delivered == ["a", "b", "c", "d", "e"])
    }

    @Test("a pass cut short resumes where it stopped")
    func cutShort() {
        let written = (1...6).map { chunk("\($0)", at: Int64($0) * 100) }
        var point = LogResumePoint(since: Timestamp(nanosecondsSinceEpoch: 200))
        var delivered: [String] = []
        point.beginPass()
        for chunk in engine(written, since: point.since).prefix(2) where point.admit(chunk) { delivered.append(chunk.text) }
        point.beginPass()
        for chunk in engine(written, since: point.since) where point.admit(chunk) { delivered.append(chunk.text) }
        #expect(delivered == ["2", "3", "4", "5", "6"])
    }
}
