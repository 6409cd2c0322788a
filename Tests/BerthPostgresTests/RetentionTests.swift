import BerthCore
import BerthPluginKit
@testable import BerthPostgres
import BerthTestSupport
import Foundation
import Testing

extension PostgresTests {
    @Suite struct Retention {
        /// Ends `id` as cancelled, then moves its finish time `daysAgo` into the past.
        private func finish(_ store: PostgresStore, _ id: UUID, daysAgo: Double) async throws {
            _ = try await store.transition(id, from: .queued, to: .cancelled, reason: "test")
            try await store.pool.withConnection { connection in
                try await connection.query(
                    "UPDATE executions SET finished_at = now() - make_interval(secs => $2::double precision) WHERE id = $1",
                    [PostgresBind(id), PostgresBind(daysAgo * 86_400)])
            }
        }

        @Test("retention removes exactly the logs and outputs of executions finished before the cutoff, once; the rest stays")
        func expiresExactly() async throws {
            try await TestServer.withStore { store, _ in
                var ids: [String: UUID] = [:]
                for name in ["old", "recent", "running"] {
                    let id = try await store.createExecution(sampleExecution(name: name)).id
                    ids[name] = id
                    try await store.appendLogs([NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("\(name)\n".utf8))])
                    try await store.beginArtifacts(of: id, attempt: 1)
                    try await store.appendArtifactChunk(of: id, attempt: 1, seq: 1, data: [1, 2, 3])
                    try await store.finishArtifacts(of: id, attempt: 1, bytes: 3, error: nil)
                    try await store.recordReport(ExecutionReport(executionID: id, kind: .result, attempt: 1, source: .stdout, body: ["n": 1], at: Date()))
                }
                try await finish(store, ids["old"]!, daysAgo: 8)
                try await finish(store, ids["recent"]!, daysAgo: 6)
                let cutoff = Date().addingTimeInterval(-7 * 86_400)

                #expect(try await store.expireOutputs(finishedBefore: cutoff, limit: 100) == [ids["old"]!])
                #expect(try await store.expireOutputs(finishedBefore: cutoff, limit: 100).isEmpty, "expired once")
                let old = try #require(try await store.execution(id: ids["old"]!))
                #expect(old.outputsExpiredAt != nil)
                #expect(try await store.logs(LogQuery(executionID: old.id)).isEmpty)
                #expect(try await store.artifactSet(of: old.id) == nil)
                #expect(try await store.report(.result, of: old.id) != nil, "the result is kept")
                #expect(try await store.events(of: old.id, afterSeq: nil, limit: 10).count == 2, "the history is kept")
                for name in ["recent", "running"] {
                    let id = ids[name]!
                    #expect(try await store.execution(id: id)?.outputsExpiredAt == nil)
                    #expect(try await store.logs(LogQuery(executionID: id)).count == 1, "\(name)'s logs")
                    #expect(try await store.artifactSet(of: id)?.complete == true, "\(name)'s outputs")
                }
            }
        }
    }
}
