import BerthCore
import BerthPluginKit
import BerthTestSupport
import Foundation
import Testing

/// The Scheduler on real parts: PostgreSQL (leader lock, NOTIFY, claims) and the C Simulated
/// plugin through the PluginHost and the ExecutionSupervisor.
@Suite("Scheduler on PostgreSQL and the Simulated plugin", .postgresServer)
struct SchedulerTests {
    /// One running scheduler with its supervisor and plugin host.
    struct Runtime {
        let store: any Store
        let plugins: PluginHost
        let supervisor: ExecutionSupervisor
        let scheduler: Scheduler
        let task: Task<Void, Never>

        func stop() async {
            await scheduler.shutdown()
            await task.value
            await supervisor.shutdown()
        }
    }

    static func configuration(
        defaultHost: String? = "sim", maxConcurrent: [String: Int] = [:], key: Int64 = .random(in: 1...Int64.max),
        _ adjust: (inout SchedulerConfiguration) -> Void = { _ in }
    ) -> SchedulerConfiguration {
        var configuration = SchedulerConfiguration(defaultHost: defaultHost, maxConcurrent: maxConcurrent)
        configuration.leaderLockKey = key
        configuration.leaderRetryInterval = .milliseconds(200)
        adjust(&configuration)
        return configuration
    }

    static func hosts(simMaxConcurrent: Int = 50, extra: [TargetHostConfiguration] = []) -> [TargetHostConfiguration] {
        [TargetHostConfiguration(name: "sim", plugin: "simulated", settings: ["max_concurrent": .number(Double(simMaxConcurrent))])] + extra
    }

    /// Starts a scheduler on `store` and waits until it leads (unless `awaitLeadership` is false).
    static func start(
        _ store: any Store, plugins: PluginHost, configuration: SchedulerConfiguration,
        removeFinished: Bool = true, options: ExecutionSupervisor.Options = ExecutionSupervisor.Options(), awaitLeadership: Bool = true
    ) async throws -> Runtime {
        var options = options
        options.removeFinished = removeFinished
        let supervisor = ExecutionSupervisor(store: store, plugins: plugins, options: options, logger: TestServer.logger)
        let scheduler = Scheduler(store: store, plugins: plugins, supervisor: supervisor, configuration: configuration, logger: TestServer.logger)
        let task = Task { await scheduler.run() }
        let runtime = Runtime(store: store, plugins: plugins, supervisor: supervisor, scheduler: scheduler, task: task)
        if awaitLeadership {
            try await eventually("scheduler becomes leader") { await scheduler.isLeader }
        }
        return runtime
    }

    /// Runs `body` with a fresh database, a plugin host and one leading scheduler;
    /// `beforeStart` runs on the store before the scheduler starts.
    static func withScheduler(
        hosts: [TargetHostConfiguration] = Self.hosts(), configuration: SchedulerConfiguration = Self.configuration(),
        removeFinished: Bool = true, options: ExecutionSupervisor.Options = ExecutionSupervisor.Options(),
        beforeStart: (any Store) async throws -> Void = { _ in },
        _ body: (Runtime) async throws -> Void
    ) async throws {
        try await TestServer.withStore(maxConnections: 8) { postgres, _ in
            let store: any Store = postgres
            try await beforeStart(store)
            let plugins = PluginHost(configuration: PluginHostConfiguration(
                hosts: hosts, serverID: "berth-test-" + TestEnvironment.uniqueID()))
            await plugins.start()
            let runtime = try await start(store, plugins: plugins, configuration: configuration, removeFinished: removeFinished, options: options)
            do {
                try await body(runtime)
            } catch {
                await runtime.stop()
                await plugins.shutdown()
                throw error
            }
            await runtime.stop()
            await plugins.shutdown()
        }
    }

    static func submit(
        _ store: any Store, _ env: [String: String], targetHost: String? = nil, priority: Int = 0, timeout: Int? = nil
    ) async throws -> Execution {
        try await store.createExecution(NewExecution(
            owner: "tester", image: "sim/test:1", env: env, targetHost: targetHost, timeoutSeconds: timeout, priority: priority))
    }

    static func eventually(
        _ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool
    ) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("timed out waiting: \(what)")
        throw CancellationError()
    }

    static func wait(
        _ store: any Store, _ id: UUID, timeout: Duration = .seconds(60), until: (Execution) -> Bool
    ) async throws -> Execution {
        var last: Execution?
        do {
            try await eventually("execution \(id) to reach the expected state", timeout: timeout) {
                last = try await store.execution(id: id)
                return last.map(until) ?? false
            }
        } catch {
            Issue.record("last seen: \(String(describing: last?.state)) \(String(describing: last?.stateReason))")
            throw error
        }
        return last!
    }

    static func terminal(_ store: any Store, _ id: UUID, timeout: Duration = .seconds(60)) async throws -> Execution {
        try await wait(store, id, timeout: timeout) { $0.state.isTerminal }
    }

    /// The `seq` of the execution's first event into `state`: events are numbered in the
    /// order they were written.
    static func seq(_ store: any Store, _ id: UUID, into state: ExecutionState) async throws -> Int64 {
        let events = try await store.events(of: id, afterSeq: nil, limit: 100)
        return try #require(events.first { $0.toState == state }?.seq)
    }

    /// The Simulated plugin's own view of the execution's runtime object.
    static func runtimeObject(_ runtime: Runtime, _ id: UUID) async throws -> RuntimeObject? {
        let sim = try await runtime.plugins.backend(forHost: "sim")
        return try await sim.list(labels: [BerthLabel.execution: id.uuidString.lowercased()]).first
    }

    // MARK: - Runs

    @Test("a submission runs to succeeded with its logs stored")
    func submitSucceeds() async throws {
        try await Self.withScheduler { runtime in
            let created = try await Self.submit(runtime.store, ["SIM_SECONDS": "0.3", "SIM_LINES": "3", "SIM_STDERR_LINES": "1"])
            let execution = try await Self.terminal(runtime.store, created.id)
            #expect(execution.state == .succeeded)
            #expect(execution.exitCode == 0)
            #expect(execution.host == "sim")
            #expect(execution.stateReason == "exit code 0")
            let states = try await runtime.store.events(of: created.id, afterSeq: nil, limit: 100).map(\.toState)
            #expect(states == [.queued, .scheduled, .starting, .running, .succeeded])
            let events = try await runtime.store.events(of: created.id, afterSeq: nil, limit: 100)
            #expect(events.first { $0.toState == .scheduled }?.reason == "scheduled on host sim")
            let logs = try await runtime.store.logs(LogQuery(executionID: created.id))
            let stdout = logs.filter { $0.stream == .stdout }.map { String(decoding: $0.bytes, as: UTF8.self) }.joined()
            let stderr = logs.filter { $0.stream == .stderr }.map { String(decoding: $0.bytes, as: UTF8.self) }.joined()
            #expect(stdout == "line 1\nline 2\nline 3\n")
            #expect(stderr == "err 1\n")
            #expect(logs.allSatisfy { $0.attempt == 1 })
        }
    }

    @Test("a non-zero exit fails the execution with its exit code")
    func nonZeroExit() async throws {
        try await Self.withScheduler { runtime in
            let created = try await Self.submit(runtime.store, ["SIM_SECONDS": "0.1", "SIM_EXIT": "3"])
            let execution = try await Self.terminal(runtime.store, created.id)
            #expect(execution.state == .failed)
            #expect(execution.exitCode == 3)
            #expect(execution.stateReason == "exit code 3")
            #expect(execution.error?.code == "exit_code")
        }
    }

    // MARK: - Capacity and order

    @Test("with max_concurrent 2, five submissions run two containers at a time and are placed in submit order")
    func capacityTwo() async throws {
        try await Self.withScheduler(configuration: Self.configuration(maxConcurrent: ["sim": 2])) { runtime in
            var ids: [UUID] = []
            for _ in 0..<5 {
                ids.append(try await Self.submit(runtime.store, ["SIM_SECONDS": "0.6"]).id)
            }
            var sawWaitingReason = false
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(30)
            while clock.now < deadline {
                let all = try await runtime.store.listExecutions(ExecutionQuery(limit: 100)).executions
                #expect(all.count == ids.count)
                if all.contains(where: { $0.state == .queued && $0.stateReason == "host sim at capacity 2/2" }) { sawWaitingReason = true }
                if all.allSatisfy({ $0.state.isTerminal }) { break }
                try await Task.sleep(for: .milliseconds(15))
            }
            #expect(sawWaitingReason)
            var runs: [(start: Date, end: Date)] = []
            for id in ids {
                let execution = try #require(try await runtime.store.execution(id: id))
                #expect(execution.state == .succeeded)
                runs.append((try #require(execution.startedAt), try #require(execution.finishedAt)))
            }
            // By the plugin's own start and end times (the reason above shows 2 slots were held).
            #expect(Self.mostAtOnce(runs) <= 2, "never more than 2 containers at once")
            var seqs: [Int64] = []
            for id in ids { seqs.append(try await Self.seq(runtime.store, id, into: .scheduled)) }
            #expect(seqs == seqs.sorted(), "placement order must equal submit order")
        }
    }

    @Test("executions are placed in submit order: 30 queued before the scheduler leads, in one pass; 30 more one at a time, in several")
    func placementOrder() async throws {
        var ids: [UUID] = []
        try await Self.withScheduler(beforeStart: { store in
            for _ in 0..<30 {
                ids.append(try await Self.submit(store, ["SIM_SECONDS": "0.2"]).id)
            }
        }) { runtime in
            // Each insert's NOTIFY wakes a pass that places what is queued by then.
            for _ in 0..<30 {
                ids.append(try await Self.submit(runtime.store, ["SIM_SECONDS": "0.2"]).id)
            }
            for id in ids {
                #expect(try await Self.terminal(runtime.store, id).state == .succeeded)
            }
            var seqs: [Int64] = []
            for id in ids { seqs.append(try await Self.seq(runtime.store, id, into: .scheduled)) }
            #expect(seqs == seqs.sorted(), "placement order must equal submit order")
        }
    }

    @Test("a slot is free once the container ends, while its output is still being stored")
    func slotFreeAtExit() async throws {
        try await Self.withScheduler(configuration: Self.configuration(maxConcurrent: ["sim": 1])) { runtime in
            // 200,000 lines take the supervisor a while to store after the container ended.
            let first = try await Self.submit(runtime.store, ["SIM_SECONDS": "0", "SIM_LINES": "200000"])
            let second = try await Self.submit(runtime.store, ["SIM_SECONDS": "0"])
            let firstEnded = try await Self.terminal(runtime.store, first.id, timeout: .seconds(180))
            let secondEnded = try await Self.terminal(runtime.store, second.id)
            #expect(firstEnded.state == .succeeded)
            #expect(secondEnded.state == .succeeded)
            let firstEvents = try await runtime.store.events(of: first.id, afterSeq: nil, limit: 100)
            let firstSucceeded = try #require(firstEvents.first { $0.toState == .succeeded }?.seq)
            #expect(try await Self.seq(runtime.store, second.id, into: .starting) < firstSucceeded, "the second started before the first's output was in")
            let (firstEnd, secondStart) = (try #require(firstEnded.finishedAt), try #require(secondEnded.startedAt))
            #expect(firstEnd <= secondStart, "the second container started after the first one ended")
        }
    }

    /// The most intervals that overlap at one instant (an end and a start at the same instant
    /// do not overlap).
    static func mostAtOnce(_ runs: [(start: Date, end: Date)]) -> Int {
        let edges = runs.flatMap { [($0.start, 1), ($0.end, -1)] }.sorted { ($0.0, $0.1) < ($1.0, $1.1) }
        var now = 0
        var most = 0
        for (_, change) in edges {
            now += change
            most = max(most, now)
        }
        return most
    }

    @Test("a host without a configured limit uses its plugin's capacity")
    func pluginCapacity() async throws {
        try await Self.withScheduler(hosts: Self.hosts(simMaxConcurrent: 1)) { runtime in
            // The first runs until cancelled: however slow the machine, the second finds it running.
            let first = try await Self.submit(runtime.store, ["SIM_SECONDS": "300"])
            _ = try await Self.wait(runtime.store, first.id) { $0.state == .running }
            let second = try await Self.submit(runtime.store, ["SIM_SECONDS": "0.1"])
            let waiting = try await Self.wait(runtime.store, second.id) { $0.stateReason == "host sim at capacity 1/1" }
            #expect(waiting.state == .queued)
            _ = try await runtime.scheduler.cancel(first.id, reason: "make room")
            #expect(try await Self.terminal(runtime.store, second.id).state == .succeeded)
            #expect(try await runtime.store.execution(id: first.id)?.state == .cancelled)
        }
    }

    @Test("higher priority starts first; equal priority by age")
    func priorityOrder() async throws {
        try await Self.withScheduler(configuration: Self.configuration(maxConcurrent: ["sim": 1])) { runtime in
            // The blocker holds the only slot until all four wait: then it is cancelled.
            let blocker = try await Self.submit(runtime.store, ["SIM_SECONDS": "300"])
            _ = try await Self.wait(runtime.store, blocker.id) { $0.state == .running }
            let low = try await Self.submit(runtime.store, ["SIM_SECONDS": "0.05"], priority: 0)
            let high = try await Self.submit(runtime.store, ["SIM_SECONDS": "0.05"], priority: 5)
            let mid = try await Self.submit(runtime.store, ["SIM_SECONDS": "0.05"], priority: 1)
            let high2 = try await Self.submit(runtime.store, ["SIM_SECONDS": "0.05"], priority: 5)
            _ = try await runtime.scheduler.cancel(blocker.id, reason: "make room")
            for execution in [low, high, mid, high2] {
                #expect(try await Self.terminal(runtime.store, execution.id).state == .succeeded)
            }
            var seqs: [Int64] = []
            for execution in [blocker, high, high2, mid, low] { seqs.append(try await Self.seq(runtime.store, execution.id, into: .starting)) }
            #expect(seqs == seqs.sorted(), "expected blocker, high, high2, mid, low")
        }
    }

    @Test("executions that cannot be placed wait with a reason a user can act on")
    func waitingReasons() async throws {
        let hosts = Self.hosts(extra: [TargetHostConfiguration(name: "gpu-box", plugin: "no-such-plugin")])
        try await Self.withScheduler(hosts: hosts, configuration: Self.configuration(defaultHost: nil)) { runtime in
            let noHost = try await Self.submit(runtime.store, ["SIM_SECONDS": "0"])
            let unknown = try await Self.submit(runtime.store, ["SIM_SECONDS": "0"], targetHost: "nowhere")
            let broken = try await Self.submit(runtime.store, ["SIM_SECONDS": "0"], targetHost: "gpu-box")
            let fine = try await Self.submit(runtime.store, ["SIM_SECONDS": "0"], targetHost: "sim")
            #expect(try await Self.terminal(runtime.store, fine.id).state == .succeeded)
            let a = try await Self.wait(runtime.store, noHost.id) { $0.stateReason != "submitted" }
            #expect(a.state == .queued)
            #expect(a.stateReason == "no target host and no default_host configured")
            let b = try await Self.wait(runtime.store, unknown.id) { $0.stateReason != "submitted" }
            #expect(b.stateReason == "host nowhere is not configured")
            let c = try await Self.wait(runtime.store, broken.id) { $0.stateReason != "submitted" }
            #expect(c.stateReason?.hasPrefix("host gpu-box unreachable: no loaded plugin is named 'no-such-plugin'") == true)
            // A reason is not a state change: no event beyond the submission.
            #expect(try await runtime.store.events(of: noHost.id, afterSeq: nil, limit: 10).count == 1)
        }
    }

    // MARK: - Cancel and timeout

    @Test("cancel of a queued execution; cancel of a terminal one changes nothing; unknown id gives nil")
    func cancelQueued() async throws {
        try await Self.withScheduler(configuration: Self.configuration(defaultHost: nil)) { runtime in
            let queued = try await Self.submit(runtime.store, ["SIM_SECONDS": "0"])
            _ = try await Self.wait(runtime.store, queued.id) { $0.stateReason == "no target host and no default_host configured" }
            let cancelled = try #require(try await runtime.scheduler.cancel(queued.id, reason: "cancelled by user"))
            #expect(cancelled.state == .cancelled)
            #expect(cancelled.stateReason == "cancelled by user")
            let again = try #require(try await runtime.scheduler.cancel(queued.id, reason: "again"))
            #expect(again.state == .cancelled)
            #expect(again.stateReason == "cancelled by user")
            #expect(try await runtime.scheduler.cancel(UUID(), reason: "cancelled by user") == nil)
            let states = try await runtime.store.events(of: queued.id, afterSeq: nil, limit: 10).map(\.toState)
            #expect(states == [.queued, .cancelled])
        }
    }

    @Test("cancel of a running execution stops it (exit 137) and keeps it cancelled")
    func cancelRunning() async throws {
        try await Self.withScheduler(removeFinished: false) { runtime in
            let created = try await Self.submit(runtime.store, ["SIM_SECONDS": "60", "SIM_LINES": "2"])
            _ = try await Self.wait(runtime.store, created.id) { $0.state == .running }
            let cancelled = try #require(try await runtime.scheduler.cancel(created.id, reason: "cancelled by user"))
            #expect(cancelled.state == .cancelled)
            #expect(cancelled.stateReason == "cancelled by user")
            try await Self.eventually("the simulated execution exits") {
                try await Self.runtimeObject(runtime, created.id)?.status.state == .exited
            }
            let object = try #require(try await Self.runtimeObject(runtime, created.id))
            #expect(object.status.exitCode == 137)
            #expect(object.status.reason == "stopped")
            // The supervisor still finishes the attempt, but cannot overwrite the state.
            try await Self.eventually("the attempt is marked finished") {
                try await runtime.store.attempts(of: created.id).first?.finishedAt != nil
            }
            let final = try #require(try await runtime.store.execution(id: created.id))
            #expect(final.state == .cancelled)
            #expect(final.exitCode == nil)
            let states = try await runtime.store.events(of: created.id, afterSeq: nil, limit: 10).map(\.toState)
            #expect(states == [.queued, .scheduled, .starting, .running, .cancelled])
            let stdout = try await runtime.store.logs(LogQuery(executionID: created.id)).map { String(decoding: $0.bytes, as: UTF8.self) }
            #expect(stdout == ["line 1\n"])
        }
    }

    @Test("a running execution past its timeout is timed_out and its runtime object stopped")
    func timeout() async throws {
        try await Self.withScheduler(removeFinished: false) { runtime in
            let created = try await Self.submit(runtime.store, ["SIM_SECONDS": "600"], timeout: 1)
            let running = try await Self.wait(runtime.store, created.id) { $0.state == .running }
            let execution = try await Self.terminal(runtime.store, created.id)
            #expect(execution.state == .timedOut)
            #expect(execution.stateReason == "timed out after 1 s")
            #expect(execution.error?.code == "timeout")
            let ranFor = try #require(execution.finishedAt).timeIntervalSince(try #require(running.startedAt))
            // Stopped at its 1 s timeout, not at its 600 s end (the bound leaves room for a loaded machine).
            #expect(ranFor >= 1 && ranFor < 30, "ran for \(ranFor) s")
            try await Self.eventually("the simulated execution exits") {
                try await Self.runtimeObject(runtime, created.id)?.status.state == .exited
            }
            #expect(try await Self.runtimeObject(runtime, created.id)?.status.exitCode == 137)
            try await Self.eventually("the attempt is marked finished") {
                try await runtime.store.attempts(of: created.id).first?.finishedAt != nil
            }
            #expect(try await runtime.store.execution(id: created.id)?.state == .timedOut)
        }
    }

    // MARK: - Wake-ups and leadership

    @Test("NOTIFY wakes an idle leader: a submission starts in seconds, with a 600 s fallback")
    func notifyWakeUp() async throws {
        let configuration = Self.configuration { $0.fallbackInterval = .seconds(600) }
        try await Self.withScheduler(configuration: configuration) { runtime in
            // Let the first pass happen and the scheduler go idle.
            try await Task.sleep(for: .milliseconds(500))
            for _ in 0..<3 {
                let clock = ContinuousClock()
                let submitted = clock.now
                let created = try await Self.submit(runtime.store, ["SIM_SECONDS": "0"])
                _ = try await Self.wait(runtime.store, created.id, timeout: .seconds(120)) { $0.state != .queued && $0.state != .scheduled }
                let took = clock.now - submitted
                // Far below the 600 s fallback: only the NOTIFY can have woken it (the bound is
                // loose because the whole suite shares two cores).
                #expect(took < .seconds(60), "started after \(took)")
                _ = try await Self.terminal(runtime.store, created.id)
                try await Task.sleep(for: .milliseconds(300))
            }
        }
    }

    @Test("two schedulers on one database: one leads and supervises; when it shuts down the other takes over and adopts")
    func leaderElection() async throws {
        try await TestServer.withStore(maxConnections: 8) { postgres, _ in
            let store: any Store = postgres
            let plugins = PluginHost(configuration: PluginHostConfiguration(
                hosts: Self.hosts(), serverID: "berth-test-" + TestEnvironment.uniqueID()))
            await plugins.start()
            let configuration = Self.configuration()
            let first = try await Self.start(store, plugins: plugins, configuration: configuration)
            let second = try await Self.start(store, plugins: plugins, configuration: configuration, awaitLeadership: false)
            for _ in 0..<20 {
                let leaders = [await first.scheduler.isLeader, await second.scheduler.isLeader].filter { $0 }.count
                #expect(leaders == 1)
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(await first.scheduler.isLeader)
            // Only the leader supervises: the other follows no event stream and no log.
            #expect(await first.supervisor.isSupervising)
            #expect(await second.supervisor.isSupervising == false)
            let one = try await Self.submit(store, ["SIM_SECONDS": "0"])
            #expect(try await Self.terminal(store, one.id).state == .succeeded)
            let running = try await Self.submit(store, ["SIM_SECONDS": "2", "SIM_LINES": "4"])
            _ = try await Self.wait(store, running.id) { $0.state == .running }

            await first.stop()
            #expect(await first.scheduler.isLeader == false)
            try await Self.eventually("the second scheduler takes over", timeout: .seconds(30)) { await second.scheduler.isLeader }
            #expect(await second.supervisor.isSupervising)
            // The new leader adopts the attempt the first one followed: it ends with its logs, once each.
            let adopted = try await Self.terminal(store, running.id)
            #expect(adopted.state == .succeeded)
            #expect(adopted.attempts == 1)
            let lines = try await store.logs(LogQuery(executionID: running.id)).map { String(decoding: $0.bytes, as: UTF8.self) }.joined()
            #expect(lines == "line 1\nline 2\nline 3\nline 4\n")
            let two = try await Self.submit(store, ["SIM_SECONDS": "0"])
            #expect(try await Self.terminal(store, two.id).state == .succeeded)
            await second.stop()
            await plugins.shutdown()
        }
    }
}
