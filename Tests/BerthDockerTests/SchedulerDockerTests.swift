import BerthCore
import BerthPluginKit
import BerthPostgres
import BerthTestSupport
import Foundation
import Testing

/// The Scheduler end to end on the real Docker engine and PostgreSQL.
@Suite("Scheduler on Docker and PostgreSQL", .postgresServer, .serialized)
struct SchedulerDockerTests {
    @Test("a container goes through the scheduler to succeeded with its logs")
    func runToSucceeded() async throws {
        try await RuntimeFixture.with(hosts: [try RuntimeFixture.localHost()], maxConnections: 8, scheduling: true) { runtime in
            let (store, plugins) = (runtime.store, runtime.plugins)
            let created = try await runtime.submit("echo hello; echo world")
            var execution = created
            try await RuntimeFixture.until("the execution ends") {
                execution = try await store.execution(id: created.id) ?? execution
                return execution.state.isTerminal
            }
            #expect(execution.state == .succeeded)
            #expect(execution.host == "local")
            #expect(execution.exitCode == 0)
            let stdout = try await store.logs(LogQuery(executionID: created.id)).map { String(decoding: $0.bytes, as: UTF8.self) }.joined()
            #expect(stdout == "hello\nworld\n")
            let docker = try await plugins.backend(forHost: "local")
            try await RuntimeFixture.until("the container is removed") {
                try await docker.list(labels: [BerthLabel.execution: created.id.uuidString.lowercased()]).isEmpty
            }
        }
    }

    @Test("cancel of `sleep 300` ends promptly with state cancelled and the container gone")
    func cancelSleep() async throws {
        try await RuntimeFixture.with(hosts: [try RuntimeFixture.localHost()], maxConnections: 8, scheduling: true) { runtime in
            let (store, plugins, scheduler) = (runtime.store, runtime.plugins, try #require(runtime.scheduler))
            let created = try await runtime.submit("sleep 300")
            try await RuntimeFixture.until("the execution runs") { try await store.execution(id: created.id)?.state == .running }
            let clock = ContinuousClock()
            let asked = clock.now
            let cancelled = try #require(try await scheduler.cancel(created.id, reason: "cancelled by user"))
            #expect(cancelled.state == .cancelled)
            #expect(cancelled.stateReason == "cancelled by user")
            let docker = try await plugins.backend(forHost: "local")
            try await RuntimeFixture.until("the container is stopped and removed", timeout: .seconds(120)) {
                try await docker.list(labels: [BerthLabel.execution: created.id.uuidString.lowercased()]).isEmpty
            }
            let took = clock.now - asked
            // Far before the 300 s sleep would end (loose: the suite shares two cores).
            #expect(took < .seconds(60), "container gone after \(took)")
            try await RuntimeFixture.until("the attempt is marked finished") { try await store.attempts(of: created.id).first?.finishedAt != nil }
            let final = try #require(try await store.execution(id: created.id))
            #expect(final.state == .cancelled)
            let states = try await store.events(of: created.id, afterSeq: nil, limit: 10).map(\.toState)
            #expect(states == [.queued, .scheduled, .starting, .running, .cancelled])
        }
    }
}

/// Leadership when the lock's connection drops (PostgreSQL and the Simulated plugin; no Docker).
@Suite("Scheduler leadership on PostgreSQL", .postgresServer)
struct SchedulerLeadershipTests {
    @Test("when the leader's lock connection is killed, it stops leading and the lock is free for another server")
    func connectionDropLosesLeadership() async throws {
        try await TestServer.withStore(maxConnections: 8) { store, _ in
            let plugins = PluginHost(configuration: PluginHostConfiguration(
                hosts: [TargetHostConfiguration(name: "sim", plugin: "simulated", settings: ["max_concurrent": 4])],
                serverID: "berth-test-" + TestEnvironment.uniqueID()))
            await plugins.start()
            let supervisor = ExecutionSupervisor(store: store, plugins: plugins, logger: TestServer.logger)
            var configuration = SchedulerConfiguration(defaultHost: "sim")
            configuration.leaderLockKey = .random(in: 1...Int64.max)
            configuration.fallbackInterval = .milliseconds(200)
            configuration.leaderRetryInterval = .seconds(60)  // so the loss stays visible
            let scheduler = Scheduler(store: store, plugins: plugins, supervisor: supervisor, configuration: configuration, logger: TestServer.logger)
            let task = Task { await scheduler.run() }
            let clock = ContinuousClock()
            var deadline = clock.now + .seconds(10)
            while !(await scheduler.isLeader), clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(await scheduler.isLeader)

            // Another server cannot take the lock while the leader holds it.
            let other = store.leaderLock(key: configuration.leaderLockKey)
            #expect(try await other.acquire() == false)

            let killed = try await store.pool.withConnection { connection in
                try await connection.query(
                    """
                    SELECT pg_terminate_backend(pid) AS killed FROM pg_locks
                    WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                    """
                ).count
            }
            #expect(killed == 1)
            deadline = clock.now + .seconds(10)
            while await scheduler.isLeader, clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(await scheduler.isLeader == false)
            #expect(try await other.acquire() == true)
            #expect(await other.isHeld())
            await other.release()

            await scheduler.shutdown()
            await task.value
            await supervisor.shutdown()
            await plugins.shutdown()
        }
    }
}
