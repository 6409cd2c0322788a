import BerthTestSupport
import BerthCore
@testable import BerthPostgres
import Foundation
import Testing

extension PostgresTests {
    @Suite struct Listing {
        @Test func pagesByKeyWhileRowsAreInserted() async throws {
            try await TestServer.withStore { store, _ in
                var original: Set<UUID> = []
                for _ in 0..<25 { original.insert(try await store.createExecution(sampleExecution()).id) }
                var seen: [UUID] = []
                var cursor: ExecutionCursor?
                var pages = 0
                repeat {
                    let page = try await store.listExecutions(ExecutionQuery(after: cursor, limit: 7))
                    seen += page.executions.map(\.id)
                    // Order within a page is newest first.
                    let keys = page.executions.map { ($0.createdAt, $0.id.uuidString) }
                    #expect(zip(keys, keys.dropFirst()).allSatisfy { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 > $1.1) })
                    cursor = page.next
                    pages += 1
                    // New rows arrive between pages; they are newer, so they never shift later pages.
                    for _ in 0..<3 { _ = try await store.createExecution(sampleExecution(owner: "late")) }
                } while cursor != nil && pages < 50
                #expect(Set(seen).count == seen.count, "no duplicates")
                #expect(original.isSubset(of: Set(seen)), "no omissions")
                #expect(seen.count == 25)
                #expect(pages == 4)
                if let token = ExecutionCursor(createdAtMicros: 1_700_000_000_123_456, id: UUID()).token as String? {
                    #expect(ExecutionCursor(token: token)?.createdAtMicros == 1_700_000_000_123_456)
                }
            }
        }

        @Test func filters() async throws {
            try await TestServer.withStore { store, _ in
                let a = try await store.createExecution(sampleExecution(owner: "alice", labels: ["team": "ml"], name: "a"))
                let b = try await store.createExecution(sampleExecution(owner: "bob", labels: ["team": "ml", "x": "1"], targetHost: "gpu-box"))
                let c = try await store.createExecution(sampleExecution(owner: "bob", labels: ["team": "web"]))
                _ = try await store.transition(c.id, from: .queued, to: .cancelled, reason: "stop")
                func ids(_ query: ExecutionQuery) async throws -> Set<UUID> {
                    Set(try await store.listExecutions(query).executions.map(\.id))
                }
                #expect(try await ids(ExecutionQuery(owner: "bob")) == [b.id, c.id])
                #expect(try await ids(ExecutionQuery(labels: ["team": "ml"])) == [a.id, b.id])
                #expect(try await ids(ExecutionQuery(labels: ["team": "ml", "x": "1"])) == [b.id])
                #expect(try await ids(ExecutionQuery(states: [.cancelled])) == [c.id])
                #expect(try await ids(ExecutionQuery(states: [.queued, .cancelled], owner: "bob")) == [b.id, c.id])
                #expect(try await ids(ExecutionQuery(host: "gpu-box")) == [b.id])
                #expect(try await ids(ExecutionQuery(name: "a")) == [a.id])
                await #expect(throws: StoreError.self) { _ = try await store.listExecutions(ExecutionQuery(limit: 0)) }
            }
        }
    }

    @Suite struct Claiming {
        @Test func claimsInPriorityOrder() async throws {
            try await TestServer.withStore { store, _ in
                let low = try await store.createExecution(sampleExecution(priority: 0))
                let high = try await store.createExecution(sampleExecution(priority: 10))
                let elsewhere = try await store.createExecution(sampleExecution(priority: 20, targetHost: "gpu-box"))
                let claimed = try await store.claimQueued(host: "local", limit: 10)
                #expect(claimed.map(\.id) == [high.id, low.id])
                #expect(claimed.allSatisfy { $0.state == .scheduled && $0.host == "local" && $0.attempts == 1 })
                #expect(try await store.execution(id: elsewhere.id)?.state == .queued, "not placed, stays queued")
                let events = try await store.events(of: high.id, afterSeq: nil, limit: 10)
                #expect(events.map(\.toState) == [.queued, .scheduled])
                #expect(events.last?.attempt == 1)
            }
        }

        @Test func twoClaimersNeverGetTheSameExecution() async throws {
            try await TestServer.withStore(maxConnections: 4) { store, _ in
                var all: Set<UUID> = []
                for index in 0..<40 { all.insert(try await store.createExecution(sampleExecution(priority: index % 3)).id) }
                let results = try await withThrowingTaskGroup(of: (String, [UUID]).self) { group in
                    for claimer in ["host-a", "host-b"] {
                        group.addTask {
                            var mine: [UUID] = []
                            var idle = 0
                            while idle < 3 {
                                // Slow placement: both claimers read the same candidates before either writes.
                                let batch = try await store.claim(limit: 3, reason: claimer) { candidates in
                                    usleep(2_000)
                                    return Dictionary(uniqueKeysWithValues: candidates.map { ($0.id, claimer) })
                                }
                                if batch.isEmpty { idle += 1 } else { idle = 0 }
                                mine += batch.map(\.id)
                            }
                            return (claimer, mine)
                        }
                    }
                    var results: [String: [UUID]] = [:]
                    for try await (claimer, ids) in group { results[claimer] = ids }
                    return results
                }
                let a = results["host-a"] ?? [], b = results["host-b"] ?? []
                #expect(Set(a).isDisjoint(with: Set(b)))
                #expect(a.count + b.count == 40)
                #expect(Set(a).union(b) == all)
                for id in all {
                    let execution = try #require(try await store.execution(id: id))
                    #expect(execution.attempts == 1)
                    #expect(execution.host == (a.contains(id) ? "host-a" : "host-b"))
                    #expect(try await store.events(of: id, afterSeq: nil, limit: 10).count == 2)
                }
            }
        }
    }
}
