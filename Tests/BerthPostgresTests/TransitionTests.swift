import BerthTestSupport
import BerthCore
@testable import BerthPostgres
import Foundation
import Testing

extension PostgresTests {
    @Suite struct Transitions {
        func eventCount(_ store: PostgresStore, _ id: UUID) async throws -> Int {
            try await store.events(of: id, afterSeq: nil, limit: 100).count
        }

        @Test func losingTheRaceChangesNothing() async throws {
            try await TestServer.withStore(maxConnections: 4) { store, _ in
                for round in 0..<10 {
                    let created = try await store.createExecution(sampleExecution())
                    let targets: [ExecutionState] = round % 2 == 0 ? [.scheduled, .cancelled] : [.cancelled, .cancelled]
                    let outcomes = try await withThrowingTaskGroup(of: TransitionOutcome.self) { group in
                        for target in targets {
                            group.addTask { try await store.transition(created.id, from: .queued, to: target, reason: "race \(target)") }
                        }
                        var all: [TransitionOutcome] = []
                        for try await outcome in group { all.append(outcome) }
                        return all
                    }
                    let winners = outcomes.compactMap(\.execution)
                    #expect(winners.count == 1, "round \(round): \(outcomes)")
                    let final = try #require(try await store.execution(id: created.id))
                    #expect(final.state == winners.first?.state)
                    #expect(final.stateReason == "race \(final.state)")
                    for outcome in outcomes where !outcome.didWin {
                        #expect(outcome == .lost(current: final.state))
                    }
                    #expect(try await eventCount(store, created.id) == 2, "create + exactly one change")
                }
            }
        }

        @Test("a waiting reason is written only while the execution is in the given state, with no event")
        func stateReasonsWhileWaiting() async throws {
            try await TestServer.withStore { store, _ in
                let created = try await store.createExecution(sampleExecution())
                #expect(try await store.transition(created.id, from: .queued, to: .scheduled, reason: "placed", changes: TransitionChanges(host: "k8s", attempt: 1)).didWin)
                #expect(try await store.transition(created.id, from: .scheduled, to: .starting, reason: "start").didWin)
                let events = try await eventCount(store, created.id)
                try await store.updateStateReasons([created.id: "queued reason"], whileIn: .queued)
                #expect(try await store.execution(id: created.id)?.stateReason == "start")
                try await store.updateStateReasons([created.id: "Unschedulable: 0/1 nodes"], whileIn: .starting)
                #expect(try await store.execution(id: created.id)?.stateReason == "Unschedulable: 0/1 nodes")
                #expect(try await store.execution(id: created.id)?.state == .starting)
                #expect(try await eventCount(store, created.id) == events)
            }
        }

        @Test("a retry goes back to queued: host and failure cleared, claimed only after not_before, a never-started attempt's number used again")
        func retryTransitions() async throws {
            try await TestServer.withStore { store, _ in
                let created = try await store.createExecution(sampleExecution())
                let claimed = try await store.claimQueued(host: "local", limit: 10)
                #expect(claimed.map(\.attempts) == [1])
                #expect(try await store.transition(created.id, from: .scheduled, to: .starting, reason: "start").didWin)
                #expect(try await store.transition(created.id, from: .starting, to: .running, reason: "run").didWin)
                var changes = TransitionChanges.retry(notBefore: Date().addingTimeInterval(3600))
                changes.attempt = 1
                let requeued = try #require(try await store.transition(created.id, from: .running, to: .queued, reason: "retry", changes: changes).execution)
                #expect(requeued.state == .queued)
                #expect(requeued.host == nil && requeued.exitCode == nil && requeued.error == nil)
                #expect(requeued.attempts == 1)
                let notBefore = try #require(requeued.notBefore)
                #expect(try await store.nextRetryAt() == notBefore)
                // Not claimable before its time.
                #expect(try await store.claimQueued(host: "local", limit: 10).isEmpty)
                // One whose time has come is claimable, as its next attempt, and no longer waits.
                let due = try await store.createExecution(sampleExecution())
                _ = try await store.claimQueued(host: "local", limit: 10)
                #expect(try await store.transition(due.id, from: .scheduled, to: .starting, reason: "start").didWin)
                #expect(try await store.transition(
                    due.id, from: .starting, to: .queued, reason: "retry", changes: .retry(notBefore: Date().addingTimeInterval(-1))).didWin)
                #expect(try await store.nextRetryAt() == notBefore)
                let second = try #require(try await store.claimQueued(host: "local", limit: 10).first)
                #expect(second.id == due.id && second.attempts == 2 && second.notBefore == nil)
                // A start that provably never happened gives its number back.
                let back = try #require(try await store.transition(
                    due.id, from: .scheduled, to: .queued, reason: "never started",
                    changes: .retry(notBefore: nil, attemptNeverStarted: true)).execution)
                #expect(back.attempts == 1)
                #expect(try await store.claimQueued(host: "local", limit: 10).first?.attempts == 2)
                let events = try await store.events(of: due.id, afterSeq: nil, limit: 100)
                #expect(events.filter { $0.toState == .queued && $0.fromState != nil }.map(\.attempt) == [1, 2])
            }
        }

        @Test("the deployment's server id is recorded by the first server and given to every later one")
        func deploymentServerID() async throws {
            try await TestServer.withStore { store, _ in
                let first = try await store.deploymentFact(.serverID, proposing: "berth-a")
                let second = try await store.deploymentFact(.serverID, proposing: "berth-b")
                let again = try await store.deploymentFact(.serverID, proposing: "berth-a")
                #expect([first, second, again] == ["berth-a", "berth-a", "berth-a"])
                // Facts are kept apart.
                #expect(try await store.deploymentFact(.secretsKeyID, proposing: "k1") == "k1")
                #expect(try await store.deploymentFact(.secretsKeyID, proposing: "k2") == "k1")
            }
        }

        @Test func fullLifeCycleWritesFields() async throws {
            try await TestServer.withStore { store, _ in
                let created = try await store.createExecution(sampleExecution())
                #expect(try await store.transition(created.id, from: .queued, to: .scheduled, reason: "placed", changes: TransitionChanges(host: "local", attempt: 1)).didWin)
                #expect(try await store.transition(created.id, from: .scheduled, to: .starting, reason: "start").didWin)
                let running = try #require(try await store.transition(created.id, from: .starting, to: .running, reason: "running").execution)
                #expect(running.startedAt != nil)
                #expect(running.host == "local")
                #expect(running.attempts == 1)
                let failed = try #require(try await store.transition(
                    created.id, from: .running, to: .failed, reason: "exit 3",
                    changes: TransitionChanges(exitCode: 3, error: ExecutionFailure(code: "exit", message: "exited with 3"))
                ).execution)
                #expect(failed.exitCode == 3)
                #expect(failed.error == ExecutionFailure(code: "exit", message: "exited with 3"))
                #expect(failed.finishedAt != nil)
                let events = try await store.events(of: created.id, afterSeq: nil, limit: 100)
                #expect(events.map(\.toState) == [.queued, .scheduled, .starting, .running, .failed])
                #expect(events.dropFirst().map(\.attempt) == [1, 1, 1, 1])
                let later = try await store.events(of: created.id, afterSeq: events[2].seq, limit: 100)
                #expect(later.map(\.toState) == [.running, .failed])
            }
        }

        @Test func terminalStatesStayTerminal() async throws {
            try await TestServer.withStore { store, _ in
                let created = try await store.createExecution(sampleExecution())
                #expect(try await store.transition(created.id, from: .queued, to: .cancelled, reason: "stop").didWin)
                for next in ExecutionState.allCases {
                    do {
                        _ = try await store.transition(created.id, from: .cancelled, to: next, reason: "again")
                        Issue.record("a change out of cancelled to \(next) was accepted")
                    } catch let error as StoreError {
                        #expect(error.code == .invalidTransition)
                        #expect(error.executionID == created.id)
                    }
                }
                // A caller with a stale view loses and writes nothing.
                let stale = try await store.transition(created.id, from: .queued, to: .scheduled, reason: "late")
                #expect(stale == .lost(current: .cancelled))
                // Even a hand-written UPDATE is refused by the trigger.
                do {
                    try await store.pool.withConnection { connection in
                        try await connection.query("UPDATE executions SET state = 'running' WHERE id = $1", [PostgresBind(created.id)])
                    }
                    Issue.record("the terminal-state trigger did not refuse the update")
                } catch let error as PostgresError {
                    #expect(error.sqlState == "23514")
                    #expect(error.message.contains("cancelled"))
                }
                #expect(try await store.execution(id: created.id)?.state == .cancelled)
                #expect(try await eventCount(store, created.id) == 2)
                let missing = try await store.transition(UUID(), from: .queued, to: .scheduled, reason: "x")
                #expect(missing == .lost(current: nil))
            }
        }
    }
}

@Suite struct ExecutionStateTests {
    @Test func diagram() {
        let allowed: [ExecutionState: Set<ExecutionState>] = [
            .queued: [.scheduled, .cancelled],
            .scheduled: [.starting, .cancelled, .lost, .failed, .queued],
            .starting: [.running, .failed, .cancelled, .lost, .queued],
            .running: [.succeeded, .failed, .timedOut, .cancelled, .lost, .queued],
        ]
        for from in ExecutionState.allCases {
            for to in ExecutionState.allCases {
                #expect(from.canTransition(to: to) == (allowed[from]?.contains(to) ?? false), "\(from) → \(to)")
            }
            #expect(from.isTerminal == (allowed[from] == nil))
        }
        #expect(ExecutionState.timedOut.rawValue == "timed_out")
        #expect(ExecutionState(rawValue: "timed_out") == .timedOut)
    }

    @Test func redactsPasswords() {
        #expect(PostgresConfiguration.redact("postgresql://berth:s3cret@db:5432/berth") == "postgresql://berth:***@db:5432/berth")
        #expect(!PostgresConfiguration.redact("postgres://u:p@h/db?password=x&sslmode=require").contains("x&"))
        #expect(PostgresConfiguration.redact("host=db password='a b' user=u") == "host=db password=*** user=u")
        #expect(PostgresConfiguration.redact("postgresql:///berth?host=%2Ftmp") == "postgresql:///berth?host=%2Ftmp")
    }
}
