import BerthTestSupport
import BerthPluginKit
import BerthCore
@testable import BerthPostgres
import Foundation
import Testing

/// Waits for the first notification that matches, or fails after `seconds`.
func next(
    _ iterator: inout AsyncStream<StoreNotification>.Iterator, seconds: Double = 10,
    where matches: (StoreNotification) -> Bool
) async -> StoreNotification? {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        guard let notification = await iterator.next() else { return nil }
        if matches(notification) { return notification }
    }
    return nil
}

extension PostgresTests {
    @Suite struct Logs {
        @Test func appendAndReadInOrder() async throws {
            try await TestServer.withStore { store, _ in
                let execution = try await store.createExecution(sampleExecution())
                let t0 = Date(timeIntervalSince1970: 1_700_000_000)
                let binary: [UInt8] = [0, 255, 10, 92, 120, 0]
                let stored = try await store.appendLogs([
                    NewLogChunk(executionID: execution.id, attempt: 1, stream: .stdout, bytes: Array("one\n".utf8), timestamp: t0),
                    NewLogChunk(executionID: execution.id, attempt: 1, stream: .stderr, bytes: Array("err\n".utf8), timestamp: t0.addingTimeInterval(1)),
                    NewLogChunk(executionID: execution.id, attempt: 1, stream: .stdout, bytes: binary, timestamp: t0.addingTimeInterval(2)),
                ])
                #expect(stored.map(\.seq) == [1, 2, 3])
                try await store.appendLogs([
                    NewLogChunk(executionID: execution.id, attempt: 2, stream: .stdout, bytes: Array("two\n".utf8), timestamp: t0.addingTimeInterval(3)),
                    NewLogChunk(executionID: execution.id, attempt: 2, stream: .stdout, bytes: [], timestamp: t0.addingTimeInterval(4)),
                ])
                let all = try await store.logs(LogQuery(executionID: execution.id))
                #expect(all.map(\.seq) == [1, 2, 3, 4, 5])
                #expect(all[2].bytes == binary)
                #expect(all[0].timestamp == t0)
                #expect(all[4].bytes.isEmpty)
                #expect(try await store.logs(LogQuery(executionID: execution.id, stream: .stderr)).map(\.seq) == [2])
                #expect(try await store.logs(LogQuery(executionID: execution.id, afterSeq: 3)).map(\.seq) == [4, 5])
                #expect(try await store.logs(LogQuery(executionID: execution.id, since: t0.addingTimeInterval(2))).map(\.seq) == [3, 4, 5])
                #expect(try await store.logs(LogQuery(executionID: execution.id, attempt: 2)).map(\.seq) == [4, 5])
                #expect(try await store.logs(LogQuery(executionID: execution.id, limit: 2)).map(\.seq) == [1, 2])
                do {
                    try await store.appendLogs([NewLogChunk(executionID: UUID(), attempt: 1, stream: .stdout, bytes: [1])])
                    Issue.record("appending to a missing execution was accepted")
                } catch let error as StoreError {
                    #expect(error.code == .notFound)
                }
            }
        }

        @Test("output past the cap is cut with a marker on its stream, counted over attempts and streams; later chunks are dropped")
        func logCap() async throws {
            try await TestServer.withStore(maxLogBytesPerExecution: 1024) { store, _ in
                let execution = try await store.createExecution(sampleExecution())
                let other = try await store.createExecution(sampleExecution())
                let line = [UInt8](repeating: UInt8(ascii: "a"), count: 299) + [UInt8(ascii: "\n")]
                // 300 + 300 + 300 bytes fit; the fourth chunk crosses 1024 at its 125th byte.
                try await store.appendLogs([
                    NewLogChunk(executionID: execution.id, attempt: 1, stream: .stdout, bytes: line),
                    NewLogChunk(executionID: execution.id, attempt: 1, stream: .stderr, bytes: line),
                    NewLogChunk(executionID: other.id, attempt: 1, stream: .stdout, bytes: line),
                ])
                let stored = try await store.appendLogs([
                    NewLogChunk(executionID: execution.id, attempt: 2, stream: .stdout, bytes: line),
                    NewLogChunk(executionID: execution.id, attempt: 2, stream: .stderr, bytes: line),
                    NewLogChunk(executionID: execution.id, attempt: 2, stream: .stdout, bytes: line),
                ])
                #expect(stored.map(\.seq) == [3, 4, 5])
                #expect(stored[1].bytes.count == 124 && stored[1].stream == .stderr)
                #expect(String(decoding: stored[2].bytes, as: UTF8.self).contains("output cut here") && stored[2].stream == .stderr)
                // Once cut, nothing more is stored, and the seq numbers stay gapless.
                #expect(try await store.appendLogs([NewLogChunk(executionID: execution.id, attempt: 3, stream: .stdout, bytes: [1])]).isEmpty)
                let all = try await store.logs(LogQuery(executionID: execution.id))
                #expect(all.map(\.seq) == [1, 2, 3, 4, 5])
                #expect(all.prefix(4).reduce(0) { $0 + $1.bytes.count } == 1024)
                // Another execution has its own budget.
                #expect(try await store.appendLogs([NewLogChunk(executionID: other.id, attempt: 1, stream: .stdout, bytes: line)]).count == 1)
            }
        }

        @Test func largeBatchesSpanStatements() async throws {
            try await TestServer.withStore { store, _ in
                let execution = try await store.createExecution(sampleExecution())
                let chunks = (0..<2_500).map { NewLogChunk(executionID: execution.id, attempt: 1, stream: .stdout, bytes: Array("line \($0)\n".utf8)) }
                try await store.appendLogs(chunks)
                let read = try await store.logs(LogQuery(executionID: execution.id, limit: 10_000))
                #expect(read.count == 2_500)
                #expect(read.map(\.seq) == Array(1...2_500))
                #expect(read.last?.bytes == Array("line 2499\n".utf8))
            }
        }
    }

    @Suite struct Notifications {
        @Test func notifyArrivesAfterCreateTransitionAndLogs() async throws {
            try await TestServer.withStore { store, _ in
                var iterator = store.notifications().makeAsyncIterator()
                let ready = await next(&iterator) { $0.isResync }
                #expect(ready != nil, "the listener never reported listening")
                let created = try await store.createExecution(sampleExecution())
                let id = created.id.uuidString.lowercased()
                let onCreate = await next(&iterator) { $0.channel == StoreNotification.executionsChannel }
                #expect(onCreate?.payload == id)
                _ = try await store.transition(created.id, from: .queued, to: .cancelled, reason: "stop")
                let onTransition = await next(&iterator) { $0.channel == StoreNotification.executionsChannel }
                #expect(onTransition?.payload == id)
                try await store.appendLogs([NewLogChunk(executionID: created.id, attempt: 1, stream: .stdout, bytes: [65])])
                let onLogs = await next(&iterator) { $0.channel == StoreNotification.logsChannel }
                #expect(onLogs?.payload == id)
            }
        }

        @Test func listenerReconnectsAfterItsConnectionIsKilled() async throws {
            try await TestServer.withStore { store, _ in
                var iterator = store.notifications().makeAsyncIterator()
                #expect(await next(&iterator) { $0.isResync } != nil)
                let killed = try await store.pool.withConnection { connection in
                    try await connection.query(
                        "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                    )
                }
                #expect(killed.count == 1)
                #expect(await next(&iterator) { $0.isResync } != nil, "no resync after reconnect")
                let created = try await store.createExecution(sampleExecution())
                let onCreate = await next(&iterator) { $0.channel == StoreNotification.executionsChannel }
                #expect(onCreate?.payload == created.id.uuidString.lowercased())
            }
        }
    }
}
