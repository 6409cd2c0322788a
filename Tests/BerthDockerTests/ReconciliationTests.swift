import BerthCore
import BerthPluginKit
import BerthPostgres
import BerthTestSupport
import Foundation
import Testing

/// A supervisor that goes away with attempts running (as when `berth serve` is killed) and a
/// new one on the same store and server id, on the real Docker engine and PostgreSQL.
@Suite("Reconciliation on Docker and PostgreSQL", .postgresServer, .serialized)
struct ReconciliationTests {
    private func runtime(_ store: PostgresStore, serverID: String, orphanGrace: Duration = .zero) async throws -> (PluginHost, ExecutionSupervisor) {
        let plugins = PluginHost(configuration: PluginHostConfiguration(hosts: [try RuntimeFixture.localHost()], serverID: serverID))
        await plugins.start()
        var options = ExecutionSupervisor.Options()
        options.orphanGrace = orphanGrace
        let supervisor = ExecutionSupervisor(store: store, plugins: plugins, options: options, logger: TestServer.logger)
        await supervisor.start()
        return (plugins, supervisor)
    }

    private func launch(_ store: PostgresStore, _ supervisor: ExecutionSupervisor, _ script: String) async throws -> UUID {
        let created = try await store.createExecution(NewExecution(
            owner: "tester", image: TestEnvironment.localImage, args: ["sh", "-c", script], targetHost: "local"))
        let execution = try #require(try await store.claimQueued(host: "local", limit: 100).first { $0.id == created.id })
        await supervisor.launch(execution)
        return created.id
    }

    private func output(_ store: PostgresStore, _ id: UUID) async throws -> String {
        try await store.logs(LogQuery(executionID: id)).map { String(decoding: $0.bytes, as: UTF8.self) }.joined()
    }

    private func until(_ what: String, _ condition: () async throws -> Bool) async throws {
        try await RuntimeFixture.until(what, timeout: .seconds(60), condition)
    }

    @Test("a new supervisor adopts what still runs, records what ended meanwhile, marks lost what vanished, removes orphans")
    func restartReconciles() async throws {
        try await TestServer.withStore(maxConnections: 8) { store, _ in
            let serverID = "berth-test-" + TestEnvironment.uniqueID()
            let (firstPlugins, first) = try await runtime(store, serverID: serverID)
            let endsWhileDown = try await launch(store, first, "echo a1; sleep 4; echo a2 >&2; exit 3")
            let stillRunning = try await launch(store, first, "echo b1; sleep 12; echo b2")
            let vanishes = try await launch(store, first, "echo c1; sleep 60")
            for id in [endsWhileDown, stillRunning, vanishes] {
                // Running (or, on a loaded machine, already past it) with its first line stored.
                try await until("\(id) runs and has stored its first line") {
                    let state = try await store.execution(id: id)?.state
                    let started = state == .running || state?.isTerminal == true
                    let logged = try await output(store, id)
                    return started && !logged.isEmpty
                }
            }
            // The first server goes away; its containers keep running.
            await first.shutdown()
            await firstPlugins.shutdown()

            let docker = try await DockerFixture.open(server: serverID)
            for object in try await docker.backend.list(labels: [BerthLabel.execution: vanishes.uuidString.lowercased()]) {
                try await docker.backend.remove(object.handle)
            }
            let orphan = try await docker.backend.start(DockerFixture.shell("sleep 60"))
            try await Task.sleep(for: .seconds(5))

            let (secondPlugins, second) = try await runtime(store, serverID: serverID)
            try await until("every execution has ended") {
                for id in [endsWhileDown, stillRunning, vanishes] where try await store.execution(id: id)?.state.isTerminal != true {
                    return false
                }
                return true
            }
            let ended = try #require(try await store.execution(id: endsWhileDown))
            #expect(ended.state == .failed)
            #expect(ended.exitCode == 3)
            #expect(try await output(store, endsWhileDown) == "a1\na2\n")
            let adopted = try #require(try await store.execution(id: stillRunning))
            #expect(adopted.state == .succeeded)
            #expect(try await output(store, stillRunning) == "b1\nb2\n")
            let lost = try #require(try await store.execution(id: vanishes))
            #expect(lost.state == .lost)
            #expect(lost.error?.code == "lost")
            for id in [endsWhileDown, stillRunning, vanishes] {
                #expect(try await store.attempts(of: id).allSatisfy { $0.finishedAt != nil })
            }
            try await until("the orphan and the finished containers are removed") {
                try await docker.backend.list(labels: [BerthLabel.server: serverID]).isEmpty
            }
            _ = orphan
            await second.shutdown()
            await secondPlugins.shutdown()
            await docker.backend.close()
        }
    }

    @Test(
        "an ended execution whose container was not removed (the server died in between) loses it at the next start, without the orphan grace",
        arguments: [false, true])
    func endedAttemptLeftBehind(attemptClosed: Bool) async throws {
        try await TestServer.withStore(maxConnections: 8) { store, _ in
            let serverID = "berth-test-" + TestEnvironment.uniqueID()
            // What a server leaves when it dies right after writing an end: the execution
            // `succeeded`, its exited container still on the engine.
            let created = try await store.createExecution(NewExecution(
                owner: "tester", image: TestEnvironment.localImage, args: ["true"], targetHost: "local"))
            _ = try #require(try await store.claimQueued(host: "local", limit: 100).first { $0.id == created.id })
            #expect(try await store.transition(created.id, from: .scheduled, to: .starting, reason: "test", changes: TransitionChanges(attempt: 1)).didWin)
            let docker = try await DockerFixture.open(server: serverID)
            let spec = ExecutionSpec(executionID: created.id.uuidString.lowercased(), attempt: 1, image: TestEnvironment.localImage, args: ["true"])
            let handle = try await docker.backend.start(spec)
            _ = try await TestPlugins.waitUntilFinal(docker.backend, handle)
            _ = try await store.recordAttempt(Attempt(
                executionID: created.id, number: 1, host: "local", runtimeHandle: handle.json.jsonText, startedAt: Date()))
            #expect(try await store.transition(created.id, from: .starting, to: .running, reason: "test", changes: TransitionChanges(attempt: 1)).didWin)
            #expect(try await store.transition(created.id, from: .running, to: .succeeded, reason: "test", changes: TransitionChanges(exitCode: 0, attempt: 1)).didWin)
            // Died before closing the attempt, or after closing it (an object no attempt owns).
            if attemptClosed { try await store.finishAttempt(executionID: created.id, number: 1, at: Date()) }

            // The orphan grace is a minute: only the new rule removes the container sooner.
            let (plugins, supervisor) = try await runtime(store, serverID: serverID, orphanGrace: .seconds(60))
            try await RuntimeFixture.until("the finished attempt's container is removed", timeout: .seconds(20)) {
                try await docker.backend.list(labels: [BerthLabel.server: serverID]).isEmpty
            }
            #expect(try await store.attempts(of: created.id).allSatisfy { $0.finishedAt != nil })
            #expect(try await store.execution(id: created.id)?.state == .succeeded)
            await supervisor.shutdown()
            await plugins.shutdown()
            await docker.backend.close()
        }
    }
}
