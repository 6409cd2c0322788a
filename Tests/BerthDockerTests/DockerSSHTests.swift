import BerthCore
import BerthPluginKit
import BerthPostgres
import BerthTestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// The `docker-ssh` plugin on the second engine through the test sshd: the errors a user acts
/// on, many followed executions on one SSH connection, and sshd going away mid-run.
@Suite("Docker over SSH", .serialized, .postgresServer, .sshd)
struct DockerSSHTests {
    private func open(_ settings: [String: JSONValue]) async throws -> PluginInstance {
        try await TestPlugins.open(library: "libBerthDockerSSH.so", host: "remote", settings: .object(settings))
    }

    /// The error of the first call that needs the engine, and what health says meanwhile.
    private func firstFailure(_ settings: [String: JSONValue]) async throws -> (PluginError?, Health) {
        let backend = try await open(settings)
        let error = await #expect(throws: PluginError.self) { _ = try await backend.start(DockerFixture.shell("true")) }
        let health = try await backend.health()
        await backend.close()
        return (error, health)
    }

    @Test("a rejected key is permission_denied naming the user and the key file; health says so")
    func rejectedKey() async throws {
        let key = try TestEnvironment.require("BERTH_TEST_SSH_KEY_UNAUTHORIZED")
        let user = try TestEnvironment.require("BERTH_TEST_SSH_USER")
        let (error, health) = try await firstFailure(try TestEnvironment.dockerSSHSettings(key: "BERTH_TEST_SSH_KEY_UNAUTHORIZED"))
        #expect(error?.code == .permissionDenied)
        #expect(error?.message.contains(key) == true)
        #expect(error?.message.contains(user) == true)
        #expect(health.ok == false)
        #expect(health.message.contains(key))
    }

    @Test("an unknown host key and a changed one are refused, naming the host and the SHA-256 fingerprint")
    func hostKeys() async throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("berth-known-\(TestEnvironment.uniqueID())")
        _ = FileManager.default.createFile(atPath: empty.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: empty) }
        var unknown = try TestEnvironment.dockerSSHSettings()
        unknown["known_hosts"] = .string(empty.path)
        let hostPort = "\(try TestEnvironment.require("BERTH_TEST_SSH_HOST")):\(try TestEnvironment.require("BERTH_TEST_SSH_PORT"))"
        let (unknownError, _) = try await firstFailure(unknown)
        #expect(unknownError?.code == .permissionDenied)
        #expect(unknownError?.message.contains(hostPort) == true)
        #expect(unknownError?.message.contains("SHA256:") == true)
        let (changedError, _) = try await firstFailure(try TestEnvironment.dockerSSHSettings(knownHosts: "BERTH_TEST_SSH_KNOWN_HOSTS_WRONG"))
        #expect(changedError?.code == .permissionDenied)
        #expect(changedError?.message.contains(hostPort) == true)
        #expect(changedError?.message.contains("SHA256:") == true)
        #expect(changedError?.message != unknownError?.message)
    }

    @Test("with strict checking off an unknown host key is accepted, a changed one still refused")
    func lenientHostKeys() async throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("berth-known-\(TestEnvironment.uniqueID())")
        _ = FileManager.default.createFile(atPath: empty.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: empty) }
        var unknown = try TestEnvironment.dockerSSHSettings()
        unknown["known_hosts"] = .string(empty.path)
        unknown["strict_host_key_checking"] = false
        let accepted = try await open(unknown)
        let health = try await accepted.health()
        #expect(health.ok, "\(health.message)")
        await accepted.close()

        var changed = try TestEnvironment.dockerSSHSettings(knownHosts: "BERTH_TEST_SSH_KNOWN_HOSTS_WRONG")
        changed["strict_host_key_checking"] = false
        let (error, _) = try await firstFailure(changed)
        #expect(error?.code == .permissionDenied)
        #expect(error?.message.contains("CHANGED") == true)
    }

    /// Starts an ssh-agent in the foreground (`-D`) listening on `socket` and returns its pid
    /// once the socket exists. The caller ends it with SIGKILL; nothing waits for it here, as
    /// Foundation's `waitUntilExit` can hang on an agent's exit from a concurrency thread.
    private func startAgent(socket: String) async throws -> pid_t {
        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-agent")
        agent.arguments = ["-D", "-a", socket]
        agent.standardInput = FileHandle.nullDevice
        agent.standardOutput = FileHandle.nullDevice
        agent.standardError = FileHandle.nullDevice
        try agent.run()
        for _ in 0..<250 where !FileManager.default.fileExists(atPath: socket) {
            try await Task.sleep(for: .milliseconds(20))
        }
        guard FileManager.default.fileExists(atPath: socket) else {
            kill(agent.processIdentifier, SIGKILL)
            throw PluginError(.internal, "ssh-agent made no socket at \(socket) within 5 s")
        }
        return agent.processIdentifier
    }

    @Test("an ssh-agent's key logs in; an agent that cannot be reached is named")
    func agent() async throws {
        let socket = "/tmp/berth-agent-\(TestEnvironment.uniqueID().prefix(8)).sock"
        let agentPID = try await startAgent(socket: socket)
        defer {
            // SIGKILL: started through Foundation's Process, ssh-agent does not act on SIGTERM.
            kill(agentPID, SIGKILL)
            try? FileManager.default.removeItem(atPath: socket)
        }
        let add = Process()
        add.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-add")
        add.arguments = [try TestEnvironment.require("BERTH_TEST_SSH_KEY_ED25519")]
        add.environment = ["SSH_AUTH_SOCK": socket]
        add.standardOutput = FileHandle.nullDevice
        add.standardError = FileHandle.nullDevice
        try add.run()
        add.waitUntilExit()
        try #require(add.terminationStatus == 0, "ssh-add failed")

        var settings = try TestEnvironment.dockerSSHSettings()
        settings["identity_file"] = nil
        settings["use_agent"] = true
        settings["agent_socket"] = .string(socket)
        let backend = try await open(settings)
        let (handle, status) = try await DockerFixture(backend: backend, server: "berth-test").run(DockerFixture.shell("exit 5"))
        #expect(status.exitCode == 5)
        try await backend.remove(handle)
        await backend.close()

        settings["agent_socket"] = "/tmp/berth-no-such-agent.sock"
        let (error, _) = try await firstFailure(settings)
        #expect(error?.code == .permissionDenied)
        #expect(error?.message.contains("/tmp/berth-no-such-agent.sock") == true)
    }

    @Test("a refused connection is unavailable naming address and port")
    func refused() async throws {
        var settings = try TestEnvironment.dockerSSHSettings()
        settings["port"] = 9  // discard: nothing listens on it here
        let (error, health) = try await firstFailure(settings)
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("127.0.0.1:9") == true)
        #expect(health.ok == false)
    }

    @Test("a missing remote command is named")
    func missingRemoteCommand() async throws {
        var settings = try TestEnvironment.dockerSSHSettings()
        settings["remote_command"] = "berth-no-such-command dial-stdio"
        let (error, _) = try await firstFailure(settings)
        #expect(error?.message.contains("berth-no-such-command dial-stdio") == true)
    }

    @Test("bad settings are invalid_config naming the key; the passphrase is never in a message")
    func badSettings() async throws {
        let plugin = try LoadedPlugin.load(file: TestEnvironment.pluginFolder + "/libBerthDockerSSH.so")
        var noKey = try TestEnvironment.dockerSSHSettings()
        noKey["identity_file"] = nil
        noKey["passphrase"] = "secret-passphrase-42"
        let error = await #expect(throws: PluginError.self) {
            _ = try await plugin.open(settings: .object(noKey), host: "remote", server: "s")
        }
        #expect(error?.code == .invalidConfig)
        #expect(error?.message.contains("identity_file") == true)
        #expect(error?.message.contains("secret-passphrase-42") == false)
        var badPort = try TestEnvironment.dockerSSHSettings()
        badPort["port"] = 70000
        let portError = await #expect(throws: PluginError.self) {
            _ = try await plugin.open(settings: .object(badPort), host: "remote", server: "s")
        }
        #expect(portError?.message.contains("settings.port") == true)
    }

    @Test("50 executions run and are followed at once on one SSH host, with complete logs")
    func fiftyFollowed() async throws {
        try await RuntimeFixture.with(hosts: [try RuntimeFixture.remoteHost(["max_concurrent": 50])], maxConnections: 8) { runtime in
            var ids: [UUID] = []
            for index in 0..<50 {
                ids.append(try await runtime.submitAndLaunch(
                    "echo start-\(index); sleep 2; echo end-\(index) >&2; exit \(index % 3)", host: "remote"))
            }
            for (index, id) in ids.enumerated() {
                let execution = try await runtime.waitUntilTerminal(id, timeout: .seconds(120))
                #expect(execution.exitCode == Int32(index % 3), "execution \(index)")
                #expect(execution.state == (index % 3 == 0 ? .succeeded : .failed))
                #expect(try await runtime.output(id) == "start-\(index)\n")
                #expect(try await runtime.output(id, .stderr) == "end-\(index)\n")
            }
        }
    }

    @Test("host selection by labels across two engines: each selector runs where the labels match; no match waits saying so")
    func labelSelection() async throws {
        let hosts = [try RuntimeFixture.localHost(), try RuntimeFixture.remoteHost()]
        let labels = ["local": ["engine": "local"], "remote": ["engine": "remote", "gpu": "true"]]
        try await RuntimeFixture.with(hosts: hosts, maxConnections: 8, scheduling: true, hostLabels: labels) { runtime in
            func submit(_ selector: [String: String]) async throws -> UUID {
                var new = NewExecution(owner: "tester", image: TestEnvironment.localImage, args: ["sh", "-c", "echo selected"], targetHost: nil)
                new.hostSelector = selector
                return try await runtime.store.createExecution(new).id
            }
            let gpu = try await submit(["gpu": "true"])
            let local = try await submit(["engine": "local"])
            let nowhere = try await submit(["disk": "ssd"])
            let onGPU = try await runtime.waitUntilTerminal(gpu, timeout: .seconds(60))
            #expect(onGPU.state == .succeeded && onGPU.host == "remote", "\(onGPU.state) on \(onGPU.host ?? "-")")
            #expect(try await runtime.output(gpu) == "selected\n")
            let onLocal = try await runtime.waitUntilTerminal(local, timeout: .seconds(60))
            #expect(onLocal.state == .succeeded && onLocal.host == "local", "\(onLocal.state) on \(onLocal.host ?? "-")")
            let waiting = try await runtime.waitFor(nowhere, "the reason no host matches") {
                $0.stateReason == "no configured host has the labels disk=ssd"
            }
            #expect(waiting.state == .queued && waiting.host == nil)
            _ = try await runtime.store.transition(nowhere, from: .queued, to: .cancelled, reason: "test over")
        }
    }

    @Test("the scheduler runs one execution on each of two engines at once: local over its socket, remote over SSH")
    func twoEnginesAtOnce() async throws {
        let hosts = [try RuntimeFixture.localHost(), try RuntimeFixture.remoteHost()]
        try await RuntimeFixture.with(hosts: hosts, maxConnections: 8, scheduling: true) { runtime in
            let script = "echo on-$(hostname); sleep 3"
            let local = try await runtime.submit(script, host: "local").id
            let remote = try await runtime.submit(script, host: "remote").id
            let unaimed = try await runtime.submit(script).id
            for id in [local, remote, unaimed] {
                _ = try await runtime.waitFor(id, "running") { $0.state == .running }
            }
            // All three run now, each where it was aimed (the unaimed one on the default host):
            // the remote container is on the second engine's socket and not on the first's.
            let remoteEngine = try await TestPlugins.open(
                library: "libBerthDocker.so", settings: ["socket_path": .string(try TestEnvironment.require("BERTH_TEST_REMOTE_DOCKER_SOCKET"))])
            let localEngine = try await TestPlugins.open(
                library: "libBerthDocker.so", settings: ["socket_path": .string(try TestEnvironment.dockerSocket())])
            for (id, engine, other) in [(local, localEngine, remoteEngine), (remote, remoteEngine, localEngine), (unaimed, localEngine, remoteEngine)] {
                let label = [BerthLabel.execution: id.uuidString.lowercased()]
                #expect(try await engine.list(labels: label).count == 1)
                #expect(try await other.list(labels: label).isEmpty)
            }
            for (id, host) in [(local, "local"), (remote, "remote"), (unaimed, "local")] {
                let execution = try await runtime.waitUntilTerminal(id)
                #expect(execution.state == .succeeded)
                #expect(execution.host == host)
            }
            await remoteEngine.close()
            await localEngine.close()
        }
    }
}

/// sshd stopped while an execution runs on the remote engine, then started again.
@Suite("Docker over SSH when sshd goes away", .postgresServer, .sshdExclusive)
struct DockerSSHOutageTests {
    @Test("the host turns unhealthy; once sshd is back the execution reaches its true end with all its logs")
    func sshdStoppedMidRun() async throws {
        try await RuntimeFixture.with(hosts: [try RuntimeFixture.remoteHost()]) { runtime in
            // The container runs until it is sent SIGTERM, then prints and exits 3: the test ends
            // it while sshd is down, through the remote engine's own socket, so no timing decides
            // whether the end falls inside the outage.
            let id = try await runtime.submitAndLaunch(
                "echo before; trap 'echo during-outage; echo on-stderr >&2; exit 3' TERM; while :; do sleep 0.1; done", host: "remote")
            _ = try await runtime.waitFor(id, "running") { $0.state == .running }
            // sshd goes away once "before" is stored (generous: the suite shares two cores).
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(120)
            while try await runtime.output(id) != "before\n", clock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try await runtime.output(id) == "before\n")
            let engine = try await TestPlugins.open(
                library: "libBerthDocker.so", settings: ["socket_path": .string(try TestEnvironment.require("BERTH_TEST_REMOTE_DOCKER_SOCKET"))])
            let container = try #require(try await engine.list(labels: [BerthLabel.execution: id.uuidString.lowercased()]).first)
            try TestEnvironment.runRigCommand("BERTH_TEST_SSHD_STOP")
            do {
                let backend = try await runtime.plugins.backend(forHost: "remote")
                let health = try await backend.health()
                #expect(health.ok == false, "health while sshd is down: \(health.message)")
                // The container ends while the link is down; Berth cannot have seen it.
                try await engine.stop(container.handle, graceSeconds: 30)
                let ended = try await engine.inspect(container.handle)
                #expect(ended.state == .exited && ended.exitCode == 3, "\(ended)")
                #expect(try await runtime.store.execution(id: id)?.state == .running)
                await engine.close()
            } catch {
                await engine.close()
                try TestEnvironment.runRigCommand("BERTH_TEST_SSHD_START")
                throw error
            }
            try TestEnvironment.runRigCommand("BERTH_TEST_SSHD_START")
            let execution = try await runtime.waitUntilTerminal(id, timeout: .seconds(120))
            #expect(execution.state == .failed)
            #expect(execution.exitCode == 3)
            #expect(try await runtime.output(id) == "before\nduring-outage\n")
            #expect(try await runtime.output(id, .stderr) == "on-stderr\n")
            let backend = try await runtime.plugins.backend(forHost: "remote")
            for _ in 0..<120 where try await !backend.health().ok {
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(try await backend.health().ok)
        }
    }
}
