import BerthCore
import BerthPluginKit
import BerthTestSupport
import Foundation
import Testing

/// Retry policies on real parts: PostgreSQL and the C Simulated plugin, through the Scheduler
/// and the ExecutionSupervisor.
@Suite("Retries on PostgreSQL and the Simulated plugin", .postgresServer)
struct RetryTests {
    private func submit(_ store: any Store, _ env: [String: String], _ retry: RetryPolicy) async throws -> Execution {
        try await store.createExecution(NewExecution(owner: "tester", image: "sim/test:1", env: env, retry: retry))
    }

    private func states(_ store: any Store, _ id: UUID) async throws -> [ExecutionState] {
        try await store.events(of: id, afterSeq: nil, limit: 100).map(\.toState)
    }

    @Test("an exit code listed in retry_on_exit_codes is retried until max_attempts, after the backoff; another code is final")
    func exitCodes() async throws {
        try await SchedulerTests.withScheduler { runtime in
            let policy = RetryPolicy(maxAttempts: 3, onExitCodes: [3], backoffSeconds: 0.3)
            let retried = try await submit(runtime.store, ["SIM_EXIT": "3", "SIM_LINES": "1"], policy)
            let final = try await submit(runtime.store, ["SIM_EXIT": "4"], policy)

            let ended = try await SchedulerTests.terminal(runtime.store, retried.id)
            #expect(ended.state == .failed)
            #expect(ended.exitCode == 3)
            #expect(ended.attempts == 3)
            #expect(ended.stateReason == "exit code 3")
            let run: [ExecutionState] = [.scheduled, .starting, .running]
            #expect(try await states(runtime.store, retried.id) == [.queued] + run + [.queued] + run + [.queued] + run + [.failed])
            let events = try await runtime.store.events(of: retried.id, afterSeq: nil, limit: 100)
            let retries = events.filter { $0.toState == .queued && $0.fromState != nil }
            #expect(retries.map(\.reason) == [
                "attempt 1 of 3 failed: exit code 3; attempt 2 in 0.3 s", "attempt 2 of 3 failed: exit code 3; attempt 3 in 0.6 s",
            ])
            #expect(retries.map(\.attempt) == [1, 2])
            // Each retry waited out its backoff (0.3 s, then 0.6 s) before it was placed again,
            // counted from the attempt's end (the retry is decided after it; the retry's event
            // is written later still, by as much as a busy database's batch takes).
            let attempts = try await runtime.store.attempts(of: retried.id)
            for (retry, backoff) in zip(retries, [0.3, 0.6]) {
                let placed = try #require(events.first { $0.seq > retry.seq && $0.toState == .scheduled })
                let ended = try #require(attempts.first { $0.number == retry.attempt }?.finishedAt)
                #expect(placed.at.timeIntervalSince(ended) >= backoff - 0.05, "placed \(placed.at.timeIntervalSince(ended)) s after the end")
            }
            // Each attempt's output is kept apart.
            let logs = try await runtime.store.logs(LogQuery(executionID: retried.id))
            #expect(logs.map(\.attempt) == [1, 2, 3])

            let other = try await SchedulerTests.terminal(runtime.store, final.id)
            #expect(other.state == .failed)
            #expect(other.exitCode == 4)
            #expect(other.attempts == 1)
        }
    }

    @Test("an engine failure at start (internal) is retried up to max_attempts; a failure of the spec (image_not_found) is not")
    func startFailures() async throws {
        try await SchedulerTests.withScheduler { runtime in
            // The Simulated plugin fails every start of this spec with `internal`.
            let policy = RetryPolicy(maxAttempts: 2, backoffSeconds: 0)
            let engine = try await submit(runtime.store, ["SIM_FAIL_START": "internal"], policy)
            let ended = try await SchedulerTests.terminal(runtime.store, engine.id)
            #expect(ended.state == .failed)
            #expect(ended.attempts == 2)
            #expect(ended.error?.code == "internal")
            #expect(try await states(runtime.store, engine.id) == [.queued, .scheduled, .starting, .queued, .scheduled, .starting, .failed])

            // A failure of the spec itself is never retried.
            let spec = try await submit(runtime.store, ["SIM_FAIL_START": "image_not_found"], policy)
            let refused = try await SchedulerTests.terminal(runtime.store, spec.id)
            #expect(refused.state == .failed)
            #expect(refused.attempts == 1)
            #expect(refused.error?.code == "image_not_found")
        }
    }

    @Test("a start the engine may not have received is settled by asking it: never started → queued again under the same number")
    func unconfirmedStart() async throws {
        try await SchedulerTests.withScheduler { runtime in
            let created = try await submit(runtime.store, ["SIM_FAIL_START": "unavailable"], RetryPolicy(maxAttempts: 1, backoffSeconds: 0.5))
            let requeued = try await SchedulerTests.wait(runtime.store, created.id) {
                $0.state == .queued && ($0.stateReason ?? "").contains("never started")
            }
            // Not counted: the number is used again, and with max_attempts 1 nothing failed.
            #expect(requeued.attempts == 0)
            #expect(requeued.notBefore != nil)
            let events = try await runtime.store.events(of: created.id, afterSeq: nil, limit: 100)
            #expect(events.map(\.toState).prefix(4) == [.queued, .scheduled, .starting, .queued])
            #expect(events[3].reason.hasPrefix("attempt 1 never started on host sim ("))
            // It keeps trying, paced by the backoff, until someone cancels it.
            try await SchedulerTests.eventually("placed again") {
                try await runtime.store.events(of: created.id, afterSeq: nil, limit: 100).filter { $0.toState == .scheduled }.count >= 2
            }
            let again = try await runtime.store.events(of: created.id, afterSeq: nil, limit: 100).filter { $0.toState == .scheduled }
            #expect(again.map(\.attempt) == [1, 1])
            // Placed again no sooner than the 0.5 s backoff after the requeue's decision, which came
            // after the `starting` event. (The execution read above may already be a later requeue
            // on a loaded machine, so its not_before is not compared with the first requeue's.)
            #expect(again[1].at.timeIntervalSince(events[2].at) >= 0.499)
            _ = try await runtime.scheduler.cancel(created.id, reason: "cancelled by test")
            #expect(try await SchedulerTests.terminal(runtime.store, created.id).state == .cancelled)
        }
    }
}
