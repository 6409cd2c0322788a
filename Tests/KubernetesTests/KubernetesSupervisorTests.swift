import BerthCore
import BerthPluginKit
import BerthPostgres
import BerthTestSupport
import Foundation
import KubernetesDouble
import Testing

/// Executions on a Kubernetes host through the supervisor and PostgreSQL, against the double.
@Suite("Kubernetes executions", .serialized, .postgresServer, .timeLimit(.minutes(2)))
struct KubernetesSupervisorTests {
    private func withRuntime(
        _ settings: [String: JSONValue], _ body: (PostgresStore, ExecutionSupervisor) async throws -> Void
    ) async throws {
        let double = try await KubernetesDouble.start(dockerSocket: try TestEnvironment.dockerSocket())
        let kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent("berth-kubeconfig-\(TestEnvironment.uniqueID())").path
        defer { try? FileManager.default.removeItem(atPath: kubeconfig) }
        do {
            try double.writeKubeconfig(to: kubeconfig, useCertificate: false, namespace: "berth-test")
            var all: [String: JSONValue] = ["kubeconfig": .string(kubeconfig)]
            all.merge(settings) { _, new in new }
            try await TestServer.withStore { store, _ in
                let plugins = PluginHost(configuration: PluginHostConfiguration(
                    hosts: [TargetHostConfiguration(name: "k8s", plugin: "kubernetes", settings: .object(all))],
                    serverID: "berth-test-" + TestEnvironment.uniqueID()))
                await plugins.start()
                let supervisor = ExecutionSupervisor(store: store, plugins: plugins, logger: TestServer.logger)
                await supervisor.start()
                do {
                    try await body(store, supervisor)
                } catch {
                    await supervisor.shutdown()
                    await plugins.shutdown()
                    throw error
                }
                await supervisor.shutdown()
                await plugins.shutdown()
            }
        } catch {
            await double.stop()
            throw error
        }
        await double.stop()
    }

    private func launch(
        _ store: PostgresStore, _ supervisor: ExecutionSupervisor, _ script: String, image: String = TestEnvironment.localImage,
        memoryBytes: Int64? = nil
    ) async throws -> UUID {
        let created = try await store.createExecution(NewExecution(
            owner: "tester", image: image, args: ["sh", "-c", script], targetHost: "k8s", memoryBytes: memoryBytes))
        let execution = try #require(try await store.claimQueued(host: "k8s", limit: 10).first { $0.id == created.id })
        await supervisor.launch(execution)
        return created.id
    }

    private func wait(_ store: PostgresStore, _ id: UUID, _ condition: (Execution) -> Bool) async throws -> Execution {
        for _ in 0..<600 {
            if let execution = try await store.execution(id: id), condition(execution) { return execution }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw PluginError(.timeout, "execution \(id) did not get there in 30 s")
    }

    @Test("an execution runs to its exit code with its output stored")
    func runToExitCode() async throws {
        try await withRuntime([:]) { store, supervisor in
            let id = try await launch(store, supervisor, "echo hello; exit 5")
            let execution = try await wait(store, id) { $0.state.isTerminal }
            #expect(execution.state == .failed)
            #expect(execution.exitCode == 5)
            let logs = try await store.logs(LogQuery(executionID: id)).map { String(decoding: $0.bytes, as: UTF8.self) }
            #expect(logs == ["hello\n"])
        }
    }

    @Test("an unschedulable pod keeps the execution starting, with the scheduler's message as its reason")
    func unschedulableReason() async throws {
        try await withRuntime(["node_selector": ["gpu": "true"]]) { store, supervisor in
            let id = try await launch(store, supervisor, "true")
            let waiting = try await wait(store, id) { $0.stateReason?.contains("Unschedulable") == true }
            #expect(waiting.state == .starting)
            #expect(waiting.stateReason?.contains("didn't match Pod's node affinity/selector") == true, "\(waiting.stateReason ?? "")")
        }
    }

    @Test("an image that cannot be pulled fails the execution with image_not_found")
    func imageNotFound() async throws {
        try await withRuntime(["image_pull_grace_seconds": 1]) { store, supervisor in
            let image = "\(try TestEnvironment.registry())/berth/missing:1"
            let id = try await launch(store, supervisor, "true", image: image)
            let failed = try await wait(store, id) { $0.state.isTerminal }
            #expect(failed.state == .failed)
            #expect(failed.error?.code == "image_not_found")
            #expect(failed.error?.message.contains(image) == true)
        }
    }

    @Test("a container killed for memory fails the execution with OOMKilled and its exit code")
    func oomKilled() async throws {
        try await withRuntime([:]) { store, supervisor in
            // busybox tail keeps the last 100 MB of an endless input: far over a 16 MiB limit.
            let id = try await launch(store, supervisor, "tail -c 100000000 /dev/zero", memoryBytes: 16 * 1024 * 1024)
            let execution = try await wait(store, id) { $0.state.isTerminal }
            #expect(execution.state == .failed)
            #expect(execution.exitCode == 137)
            #expect(execution.stateReason?.contains("OOMKilled") == true, "\(execution.stateReason ?? "")")
        }
    }
}
