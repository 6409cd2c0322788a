import BerthCore
import BerthPluginKit
import BerthPostgres
import BerthTestSupport
import Foundation
import Testing

/// A migrated store and a started supervisor (and, when asked, a leading scheduler) over real
/// plugin hosts: `local` (the test engine over its socket) and `remote` (the second engine over
/// the test sshd).
struct RuntimeFixture {
    let store: PostgresStore
    let supervisor: ExecutionSupervisor
    let plugins: PluginHost
    /// The scheduler, when the fixture was made with `scheduling: true`.
    let scheduler: Scheduler?

    /// The `local` host's configuration.
    static func localHost() throws -> TargetHostConfiguration {
        TargetHostConfiguration(name: "local", plugin: "docker", settings: ["socket_path": .string(try TestEnvironment.dockerSocket())])
    }

    /// The `remote` host's configuration; `extra` adds settings.
    static func remoteHost(_ extra: [String: JSONValue] = [:]) throws -> TargetHostConfiguration {
        var settings = try TestEnvironment.dockerSSHSettings()
        settings.merge(extra) { _, new in new }
        return TargetHostConfiguration(name: "remote", plugin: "docker-ssh", settings: .object(settings))
    }

    /// Runs `body` with a supervisor over `hosts`, shut down afterwards. With `scheduling`, a
    /// scheduler (placing on the first host by default) leads before `body` starts.
    static func with(
        hosts: [TargetHostConfiguration], maxConnections: Int = 4, scheduling: Bool = false, sealer: (any SecretSealer)? = nil,
        options: ExecutionSupervisor.Options = ExecutionSupervisor.Options(), hostLabels: [String: [String: String]] = [:],
        _ body: (RuntimeFixture) async throws -> Void
    ) async throws {
        try await TestServer.withStore(maxConnections: maxConnections) { store, _ in
            let plugins = PluginHost(configuration: PluginHostConfiguration(
                hosts: hosts, serverID: "berth-test-" + TestEnvironment.uniqueID()))
            await plugins.start()
            let supervisor = ExecutionSupervisor(store: store, plugins: plugins, options: options, sealer: sealer, logger: TestServer.logger)
            var scheduler: Scheduler?
            var schedulerTask: Task<Void, Never>?
            if scheduling {
                var configuration = SchedulerConfiguration(defaultHost: hosts[0].name)
                configuration.leaderLockKey = .random(in: 1...Int64.max)
                configuration.stopGraceSeconds = 2
                configuration.hostLabels = hostLabels
                let leader = Scheduler(
                    store: store, plugins: plugins, supervisor: supervisor, configuration: configuration, logger: TestServer.logger)
                scheduler = leader
                schedulerTask = Task { await leader.run() }
            } else {
                await supervisor.start()
            }
            let fixture = RuntimeFixture(store: store, supervisor: supervisor, plugins: plugins, scheduler: scheduler)
            func shutDown() async {
                if let scheduler, let schedulerTask {
                    await scheduler.shutdown()
                    await schedulerTask.value
                }
                await supervisor.shutdown()
                await plugins.shutdown()
            }
            do {
                if let scheduler { try await until("the scheduler leads") { await scheduler.isLeader } }
                try await body(fixture)
            } catch {
                await shutDown()
                throw error
            }
            await shutDown()
        }
    }

    /// Waits until `condition` holds.
    static func until(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw PluginError(.timeout, "timed out waiting: \(what)")
    }

    /// Creates an execution of `script`, for the scheduler to place (on `host` when given).
    func submit(_ script: String, host: String? = nil) async throws -> Execution {
        try await store.createExecution(NewExecution(
            owner: "tester", image: TestEnvironment.localImage, args: ["sh", "-c", script], targetHost: host))
    }

    /// Creates an execution of `script` aimed at `host`, claims it and launches it.
    func submitAndLaunch(
        _ script: String, host: String = "local", image: String = TestEnvironment.localImage, config: String? = nil
    ) async throws -> UUID {
        var new = NewExecution(owner: "tester", image: image, args: ["sh", "-c", script], targetHost: host)
        new.config = config
        let created = try await store.createExecution(new)
        let claimed = try await store.claimQueued(host: host, limit: 1000)
        let execution = try #require(claimed.first { $0.id == created.id })
        await supervisor.launch(execution)
        return created.id
    }

    /// Waits until `id` is in a terminal state.
    func waitUntilTerminal(_ id: UUID, timeout: Duration = .seconds(30)) async throws -> Execution {
        try await waitFor(id, "a terminal state", timeout: timeout) { $0.state.isTerminal }
    }

    /// Waits until `condition` holds for `id`.
    func waitFor(
        _ id: UUID, _ what: String, timeout: Duration = .seconds(30), _ condition: (Execution) -> Bool
    ) async throws -> Execution {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            if let execution = try await store.execution(id: id), condition(execution) { return execution }
            guard clock.now < deadline else { throw PluginError(.timeout, "execution \(id) did not reach \(what) in \(timeout)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// The stored output of `id` on `stream`, as text.
    func output(_ id: UUID, _ stream: LogStream = .stdout) async throws -> String {
        try await store.logs(LogQuery(executionID: id)).filter { $0.stream == stream }
            .map { String(decoding: $0.bytes, as: UTF8.self) }.joined()
    }
}
