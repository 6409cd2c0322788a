import BerthCore
import BerthPluginKit
import BerthPostgres
import BerthTestSupport
import Foundation
import Testing

/// The whole runtime core on real parts: the Docker plugin loaded by the PluginHost, a
/// container run to completion, and every state change and log line recorded in PostgreSQL.
@Suite("Supervisor on Docker and PostgreSQL", .postgresServer, .serialized)
struct SupervisorTests {
    /// Runs `body` with a migrated store and a supervisor whose host `local` is the test engine.
    private func withRuntime(
        _ body: (PostgresStore, ExecutionSupervisor, PluginHost) async throws -> Void
    ) async throws {
        let socket = try TestEnvironment.dockerSocket()
        try await TestServer.withStore { store, _ in
            let plugins = PluginHost(configuration: PluginHostConfiguration(
                hosts: [TargetHostConfiguration(name: "local", plugin: "docker", settings: ["socket_path": .string(socket)])],
                serverID: "berth-test-" + TestEnvironment.uniqueID()))
            await plugins.start()
            let supervisor = ExecutionSupervisor(store: store, plugins: plugins, logger: TestServer.logger)
            await supervisor.start()
            try await body(store, supervisor, plugins)
            await supervisor.shutdown()
            await plugins.shutdown()
        }
    }

    private func submitAndLaunch(_ store: PostgresStore, _ supervisor: ExecutionSupervisor, script: String, image: String = TestEnvironment.localImage) async throws -> UUID {
        let created = try await store.createExecution(NewExecution(
            owner: "tester", image: image, args: ["sh", "-c", script], targetHost: "local"))
        let claimed = try await store.claimQueued(host: "local", limit: 10)
        let execution = try #require(claimed.first { $0.id == created.id })
        await supervisor.launch(execution)
        return created.id
    }

    private func waitUntilTerminal(_ store: PostgresStore, _ id: UUID) async throws -> Execution {
        for _ in 0..<600 {
            if let execution = try await store.execution(id: id), execution.state.isTerminal { return execution }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw PluginError(.timeout, "execution \(id) did not end in 30 s")
    }

    @Test("a container runs to completion with its logs and every state change recorded")
    func runToCompletion() async throws {
        try await withRuntime { store, supervisor, plugins in
            let id = try await submitAndLaunch(store, supervisor, script: "echo hello; echo oops >&2; echo world")
            let execution = try await waitUntilTerminal(store, id)
            #expect(execution.state == .succeeded)
            #expect(execution.exitCode == 0)
            #expect(execution.startedAt != nil && execution.finishedAt != nil)
            let states = try await store.events(of: id, afterSeq: nil, limit: 100).map(\.toState)
            #expect(states == [.queued, .scheduled, .starting, .running, .succeeded])
            let logs = try await store.logs(LogQuery(executionID: id))
            let stdout = logs.filter { $0.stream == .stdout }.map { String(decoding: $0.bytes, as: UTF8.self) }.joined()
            let stderr = logs.filter { $0.stream == .stderr }.map { String(decoding: $0.bytes, as: UTF8.self) }.joined()
            #expect(stdout == "hello\nworld\n")
            #expect(stderr == "oops\n")
            let attempts = try await store.attempts(of: id)
            #expect(attempts.count == 1)
            #expect(attempts.first?.finishedAt != nil)
            // The finished container is removed right after its end is recorded.
            let docker = try await plugins.backend(forHost: "local")
            var remaining = -1
            for _ in 0..<100 {
                remaining = try await docker.list(labels: ["berth.execution": id.uuidString.lowercased()]).count
                if remaining == 0 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(remaining == 0)
        }
    }

    @Test("a non-zero exit fails the execution with its exit code")
    func nonZeroExit() async throws {
        try await withRuntime { store, supervisor, _ in
            let id = try await submitAndLaunch(store, supervisor, script: "echo before; exit 3")
            let execution = try await waitUntilTerminal(store, id)
            #expect(execution.state == .failed)
            #expect(execution.exitCode == 3)
            #expect(execution.error?.code == "exit_code")
            #expect(execution.stateReason == "exit code 3")
            let logs = try await store.logs(LogQuery(executionID: id))
            #expect(logs.map { String(decoding: $0.bytes, as: UTF8.self) } == ["before\n"])
        }
    }

    @Test("an image that cannot be found fails the execution with image_not_found")
    func imageNotFound() async throws {
        try await withRuntime { store, supervisor, _ in
            let image = "\(try TestEnvironment.registry())/berth/missing:1"
            let id = try await submitAndLaunch(store, supervisor, script: "true", image: image)
            let execution = try await waitUntilTerminal(store, id)
            #expect(execution.state == .failed)
            #expect(execution.error?.code == "image_not_found")
            #expect(execution.error?.message.contains(image) == true)
            let states = try await store.events(of: id, afterSeq: nil, limit: 100).map(\.toState)
            #expect(states == [.queued, .scheduled, .starting, .failed])
        }
    }
}
