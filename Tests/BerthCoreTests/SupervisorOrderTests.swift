import BerthCore
import BerthTestSupport
import Foundation
import Testing

/// The order in which the supervisor records an attempt's life, on PostgreSQL and the C
/// Simulated plugin, through the Scheduler.
@Suite("The supervisor's order of records, on PostgreSQL and the Simulated plugin", .postgresServer)
struct SupervisorOrderTests {
    @Test("a run that ends at once is `running` while its output is still being stored, and `succeeded` once all of it is")
    func runningBeforeTheLogsAreIn() async throws {
        try await SchedulerTests.withScheduler { runtime in
            let lines = 200_000
            let total = (1...lines).reduce(0) { $0 + "line \($1)\n".utf8.count }
            let created = try await SchedulerTests.submit(runtime.store, ["SIM_SECONDS": "0", "SIM_LINES": "\(lines)"])
            func storedBytes() async throws -> Int {
                var bytes = 0
                var after: Int64?
                while true {
                    let page = try await runtime.store.logs(LogQuery(executionID: created.id, afterSeq: after, limit: 1000))
                    bytes += page.reduce(0) { $0 + $1.bytes.count }
                    guard let last = page.last, page.count == 1000 else { return bytes }
                    after = last.seq
                }
            }
            // The first state after `starting`, and how much output was stored when it was seen.
            var seen: (ExecutionState, Int)?
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(120)
            while seen == nil, clock.now < deadline {
                let state = try #require(try await runtime.store.execution(id: created.id)).state
                if ![.queued, .scheduled, .starting].contains(state) { seen = (state, try await storedBytes()) }
                try await Task.sleep(for: .milliseconds(2))
            }
            let (state, bytesThen) = try #require(seen)
            #expect(state == .running)
            #expect(bytesThen < total, "running was written before the output was drained")
            let ended = try await SchedulerTests.terminal(runtime.store, created.id, timeout: .seconds(180))
            #expect(ended.state == .succeeded)
            #expect(try await storedBytes() == total)
        }
    }

    @Test("an end being recorded (200,000 lines to store) does not hold up the host's next reports: a later short run ends first")
    func endsDoNotQueue() async throws {
        try await SchedulerTests.withScheduler { runtime in
            // Both exit while running (so their ends come through the host's event stream); the
            // long one's lines come faster than they are stored, so its end takes seconds.
            let long = try await SchedulerTests.submit(runtime.store, ["SIM_SECONDS": "0.5", "SIM_LINES": "200000"])
            let short = try await SchedulerTests.submit(runtime.store, ["SIM_SECONDS": "1"])
            for id in [long.id, short.id] {
                #expect(try await SchedulerTests.terminal(runtime.store, id, timeout: .seconds(180)).state == .succeeded)
            }
            func succeededSeq(_ id: UUID) async throws -> Int64 {
                try #require(try await runtime.store.events(of: id, afterSeq: nil, limit: 100).first { $0.toState == .succeeded }?.seq)
            }
            // The short run exited while the long one's output was still being stored.
            let longEnd = try #require(try await runtime.store.execution(id: long.id)?.finishedAt)
            let shortEnd = try #require(try await runtime.store.execution(id: short.id)?.finishedAt)
            #expect(longEnd < shortEnd)
            #expect(try await succeededSeq(short.id) < succeededSeq(long.id))
        }
    }

    @Test("a start that fails is recorded as failed, never taken for an interrupted one, while reconciliation runs all the time")
    func failedStartsWhileReconciling() async throws {
        var options = ExecutionSupervisor.Options()
        options.reconcileInterval = .milliseconds(5)
        try await SchedulerTests.withScheduler(options: options) { runtime in
            var ids: [UUID] = []
            for _ in 0..<40 {
                ids.append(try await SchedulerTests.submit(runtime.store, ["SIM_FAIL_START": "image_not_found"]).id)
            }
            for id in ids {
                let ended = try await SchedulerTests.terminal(runtime.store, id)
                #expect(ended.state == .failed && ended.error?.code == "image_not_found")
                let states = try await runtime.store.events(of: id, afterSeq: nil, limit: 100).map(\.toState)
                #expect(states == [.queued, .scheduled, .starting, .failed])
            }
        }
    }
}
