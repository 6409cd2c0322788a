import BerthCore
import BerthPluginKit
import Foundation
import Testing

/// How the log pump joins an engine's one-chunk-per-line output before storing it.
@Suite("Log chunks joined before storing")
struct LogCoalescingTests {
    let execution = UUID()
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    private func chunk(_ text: String, _ stream: LogStream = .stdout, attempt: Int = 1, at offset: Double = 0, execution: UUID? = nil) -> NewLogChunk {
        NewLogChunk(executionID: execution ?? self.execution, attempt: attempt, stream: stream, bytes: Array(text.utf8), timestamp: t0.addingTimeInterval(offset))
    }

    @Test("neighbours of one stream join, in order, carrying the last piece's time; streams, attempts and executions stay apart")
    func joins() {
        let other = UUID()
        let joined = NewLogChunk.coalesced([
            chunk("a\n", at: 0), chunk("b\n", at: 1), chunk("e\n", .stderr, at: 2), chunk("c\n", at: 3), chunk("d\n", at: 4),
            chunk("x\n", attempt: 2, at: 5), chunk("y\n", at: 6, execution: other),
        ])
        #expect(joined.map { String(decoding: $0.bytes, as: UTF8.self) } == ["a\nb\n", "e\n", "c\nd\n", "x\n", "y\n"])
        #expect(joined.map(\.timestamp) == [1, 2, 4, 5, 6].map { t0.addingTimeInterval($0) })
        #expect(joined.map(\.stream) == [.stdout, .stderr, .stdout, .stdout, .stdout])
        #expect(joined.map(\.attempt) == [1, 1, 1, 2, 1])
        #expect(joined.last?.executionID == other)
        #expect(NewLogChunk.coalesced([]).isEmpty)
    }

    @Test("a piece joins only an earlier chunk (to the microsecond): each piece at the newest time ends a chunk of its own")
    func sameTime() {
        let joined = NewLogChunk.coalesced([
            chunk("a\n", at: 0), chunk("b\n", at: 1), chunk("c\n", at: 1.000_000_4), chunk("d\n", at: 1), chunk("e\n", at: 2),
        ])
        #expect(joined.map { String(decoding: $0.bytes, as: UTF8.self) } == ["a\nb\n", "c\n", "d\ne\n"])
        #expect(joined.map(\.timestamp) == [1, 1.000_000_4, 2].map { t0.addingTimeInterval($0) })
        // A pump resuming at the newest time skips as many pieces as stored chunks carry it.
        let newest = NewLogChunk.coalesced([chunk("x\n", at: 0), chunk("y\n", at: 3), chunk("z\n", at: 3)])
        #expect(newest.filter { $0.timestamp == t0.addingTimeInterval(3) }.count == 2)
    }

    @Test("a joined chunk holds at most the limit; a larger piece stays whole; every byte is kept")
    func limit() {
        let pieces = (0..<10).map { chunk(String(repeating: "\($0)", count: 3), at: Double($0)) }
            + [chunk(String(repeating: "z", count: 20), at: 10)] + [chunk("q", at: 11)]
        let joined = NewLogChunk.coalesced(pieces, upTo: 10)
        #expect(joined.map(\.bytes.count) == [9, 9, 9, 3, 20, 1])
        #expect(joined.flatMap(\.bytes) == pieces.flatMap(\.bytes))
    }
}
