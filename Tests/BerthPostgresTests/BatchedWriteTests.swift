import BerthTestSupport
import BerthCore
import BerthPluginKit
@testable import BerthPostgres
import Foundation
import Testing

extension PostgresTests {
    /// Writes that come together share statements (``WriteBatcher``); each caller still gets
    /// exactly its own result, and one bad request fails alone.
    @Suite struct BatchedWrites {
        /// A submission with every field set, the maps' keys in mixed case (a JSON key strategy
        /// must not touch them).
        func fullSubmission(_ index: Int) -> NewExecution {
            var new = sampleExecution(owner: "owner-\(index)", priority: index % 3, labels: ["teamName": "ml-\(index)"], name: "job-\(index)")
            new.env = ["camelCase": "\(index)", "snake_case": "a \"quoted\" / value", "UPPER": "é ✓"]
            new.retry = RetryPolicy(maxAttempts: 3, onExitCodes: [3, 1], backoffSeconds: 0.25)
            new.sealedSecretEnv = [0, 255, UInt8(index % 256), 10, 13]
            new.secretEnvNames = ["TOKEN"]
            new.config = #"{"learningRate": 0.5, "layers": [\#(index), 2]}"#
            new.keep = index % 2 == 0
            new.webhookURL = "http://127.0.0.1:9/hook/\(index)"
            return new
        }

        @Test("concurrent submissions each get their own row back, every field as sent, with one event each")
        func concurrentSubmissions() async throws {
            try await TestServer.withStore { store, _ in
                let count = 120
                let created = try await withThrowingTaskGroup(of: (Int, Execution).self) { group in
                    for index in 0..<count {
                        group.addTask { (index, try await store.createExecution(fullSubmission(index))) }
                    }
                    var all: [Int: Execution] = [:]
                    for try await (index, execution) in group { all[index] = execution }
                    return all
                }
                #expect(Set(created.values.map(\.id)).count == count)
                #expect(await store.creations.largestBatch > 1, "some submissions shared a statement")
                for (index, execution) in created {
                    let sent = fullSubmission(index)
                    #expect(execution.owner == sent.owner && execution.name == sent.name)
                    #expect(execution.env == sent.env)
                    #expect(execution.labels == sent.labels)
                    #expect(execution.retry == sent.retry)
                    #expect(execution.sealedSecretEnv == sent.sealedSecretEnv)
                    #expect(execution.keep == sent.keep && execution.webhookURL == sent.webhookURL)
                    #expect(execution.priority == sent.priority && execution.state == .queued)
                    let config = try #require(execution.config.flatMap { try? JSONValue(parsing: $0) })
                    #expect(config == (try JSONValue(parsing: sent.config!)))
                    let stored = try #require(try await store.execution(id: execution.id))
                    #expect(stored == execution)
                    #expect(try await store.events(of: execution.id, afterSeq: nil, limit: 10).map(\.toState) == [.queued])
                }
            }
        }

        @Test("a submission that reuses an id fails alone; the ones written with it succeed")
        func oneBadSubmissionFailsAlone() async throws {
            try await TestServer.withStore { store, _ in
                let existing = try await store.createExecution(sampleExecution())
                let results = await withTaskGroup(of: (Int, Result<Execution, StoreError>).self) { group in
                    for index in 0..<40 {
                        group.addTask {
                            var new = sampleExecution(owner: "batch-\(index)")
                            if index == 17 { new.id = existing.id }
                            do throws(StoreError) {
                                return (index, .success(try await store.createExecution(new)))
                            } catch {
                                return (index, .failure(error))
                            }
                        }
                    }
                    var all: [Int: Result<Execution, StoreError>] = [:]
                    for await (index, result) in group { all[index] = result }
                    return all
                }
                for (index, result) in results {
                    switch result {
                    case .success(let execution):
                        #expect(index != 17)
                        #expect(execution.owner == "batch-\(index)")
                    case .failure(let error):
                        #expect(index == 17)
                        #expect(error.code == .conflict)
                    }
                }
                #expect(try await store.execution(id: existing.id)?.owner == "alice")
                #expect(await store.creations.largestBatch > 1, "some submissions shared a statement")
            }
        }

        @Test("concurrent changes of many executions: each wins its own, with its event; attempts record and finish the same way")
        func concurrentChangesAndAttempts() async throws {
            try await TestServer.withStore { store, _ in
                var ids: [UUID] = []
                for index in 0..<60 { ids.append(try await store.createExecution(sampleExecution(owner: "o\(index)")).id) }
                let outcomes = try await withThrowingTaskGroup(of: (UUID, TransitionOutcome).self) { group in
                    for (index, id) in ids.enumerated() {
                        group.addTask {
                            let changes = TransitionChanges(host: "host-\(index)", attempt: 1)
                            return (id, try await store.transition(id, from: .queued, to: .scheduled, reason: "placed \(index)", changes: changes))
                        }
                    }
                    var all: [UUID: TransitionOutcome] = [:]
                    for try await (id, outcome) in group { all[id] = outcome }
                    return all
                }
                #expect(await store.transitions.largestBatch > 1, "some changes shared a statement")
                for (index, id) in ids.enumerated() {
                    let execution = try #require(outcomes[id]?.execution)
                    #expect(execution.id == id && execution.host == "host-\(index)" && execution.stateReason == "placed \(index)")
                    let events = try await store.events(of: id, afterSeq: nil, limit: 10)
                    #expect(events.map(\.toState) == [.queued, .scheduled])
                    #expect(events.last?.attempt == 1)
                }
                // The first half ends elsewhere before its attempt is recorded: recording says so.
                for id in ids.prefix(30) {
                    #expect(try await store.transition(id, from: .scheduled, to: .cancelled, reason: "cancelled").didWin)
                }
                let states = try await withThrowingTaskGroup(of: (UUID, ExecutionState).self) { group in
                    for id in ids {
                        group.addTask {
                            let attempt = Attempt(executionID: id, number: 1, host: "h", runtimeHandle: #"{"id":"c"}"#, startedAt: Date())
                            return (id, try await store.recordAttempt(attempt))
                        }
                    }
                    var all: [UUID: ExecutionState] = [:]
                    for try await (id, state) in group { all[id] = state }
                    return all
                }
                for (index, id) in ids.enumerated() { #expect(states[id] == (index < 30 ? .cancelled : .scheduled)) }
                // Ends: every recorded attempt finishes; one that does not exist fails alone.
                let ends = await withTaskGroup(of: (Int, StoreError?).self) { group in
                    for (index, id) in ids.enumerated() {
                        group.addTask {
                            do throws(StoreError) {
                                try await store.finishAttempt(executionID: id, number: index == 5 ? 9 : 1, at: Date())
                                return (index, nil)
                            } catch {
                                return (index, error)
                            }
                        }
                    }
                    var all: [Int: StoreError?] = [:]
                    for await (index, error) in group { all[index] = error }
                    return all
                }
                for (index, error) in ends { #expect(error?.code == (index == 5 ? .notFound : nil)) }
                #expect(await store.attemptRecords.largestBatch > 1, "some attempts were recorded together")
                #expect(await store.attemptEnds.largestBatch > 1, "some attempts were finished together")
                for (index, id) in ids.enumerated() {
                    let attempts = try await store.attempts(of: id)
                    #expect(attempts.count == 1)
                    #expect((attempts.first?.finishedAt != nil) == (index != 5))
                }
            }
        }
    }
}
