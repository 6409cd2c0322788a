import BerthCore
import BerthPluginKit
import BerthPostgres
import BerthTestSupport
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Submit → running on a Docker engine over SSH: Berth (store, scheduler, supervisor and the
/// `docker-ssh` plugin on its open session) against `docker -H ssh://… run -d` starting the
/// same container, in one run. Usage: `DockerSSHBench [runs]` (default 20), with the test
/// services' environment and `BERTH_BENCH_DOCKER_HOST` (see bench/docker-ssh.sh).
@main @MainActor
struct DockerSSHBench {
    static func main() async throws {
        let runs = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 20
        guard runs >= 2 else {
            print("usage: DockerSSHBench [runs]   (at least 2; default 20)")
            exit(2)
        }
        let environment = ProcessInfo.processInfo.environment
        func require(_ name: String) throws -> String {
            guard let value = environment[name], !value.isEmpty else {
                throw PluginError(.invalidConfig, "\(name) is not set: run bench/docker-ssh.sh")
            }
            return value
        }
        let image = "berth-test/busybox:1"
        let sshHost = try require("BERTH_BENCH_DOCKER_HOST")
        let settings: JSONValue = [
            "address": .string(try require("BERTH_TEST_SSH_HOST")),
            "port": .number(Double(try require("BERTH_TEST_SSH_PORT")) ?? 22),
            "user": .string(try require("BERTH_TEST_SSH_USER")),
            "identity_file": .string(try require("BERTH_TEST_SSH_KEY_ED25519")),
            "known_hosts": .string(try require("BERTH_TEST_SSH_KNOWN_HOSTS")),
            "max_concurrent": .number(Double(runs * 2)),
        ]
        var logger = Logger(label: "berth.bench")
        logger.logLevel = .warning

        let serverID = "berth-bench-\(UUID().uuidString.prefix(8).lowercased())"
        let store = PostgresStore(
            configuration: PostgresConfiguration(connectionString: try require("BERTH_TEST_DATABASE_URL")),
            maxConnections: 8, logger: logger)
        try await store.migrate()
        let plugins = PluginHost(configuration: PluginHostConfiguration(
            hosts: [TargetHostConfiguration(name: "remote", plugin: "docker-ssh", settings: settings)],
            serverID: serverID))
        await plugins.start()
        let supervisor = ExecutionSupervisor(store: store, plugins: plugins, logger: logger)
        var configuration = SchedulerConfiguration(defaultHost: "remote")
        configuration.leaderLockKey = .random(in: 1...Int64.max)
        configuration.stopGraceSeconds = 1
        let scheduler = Scheduler(store: store, plugins: plugins, supervisor: supervisor, configuration: configuration, logger: logger)
        let schedulerTask = Task { await scheduler.run() }
        while !(await scheduler.isLeader) { try await Task.sleep(for: .milliseconds(10)) }

        print("DockerSSHBench: submit → running on the engine behind \(sshHost), \(runs) runs each after one warm-up,")
        print("sequential; `sleep 30` in \(image) with --network none")
        print("")

        var berthIDs: [UUID] = []
        let berth = try await measure(runs) {
            let clock = ContinuousClock()
            let began = clock.now
            let created = try await store.createExecution(NewExecution(
                owner: "bench", image: image, args: ["sleep", "30"], targetHost: "remote"))
            berthIDs.append(created.id)
            while try await store.execution(id: created.id)?.state != .running {
                try await Task.sleep(for: .milliseconds(1))
            }
            return clock.now - began
        }
        let backend = try await plugins.backend(forHost: "remote")
        var pluginHandles: [RuntimeHandle] = []
        let pluginOnly = try await measure(runs) {
            let clock = ContinuousClock()
            let began = clock.now
            let spec = ExecutionSpec(executionID: UUID().uuidString.lowercased(), image: image, args: ["sleep", "30"])
            pluginHandles.append(try await backend.start(spec))
            return clock.now - began
        }
        let cli = try measure(runs) { try docker(sshHost, reuse: false, image, label: serverID) }
        let cliReused = try measure(runs) { try docker(sshHost, reuse: true, image, label: serverID) }

        let rows = [
            ("berth: create execution → state running", berth),
            ("  of which: docker-ssh plugin start (create + start)", pluginOnly),
            ("docker -H ssh:// run -d (new SSH login each)", cli),
            ("docker -H ssh:// run -d (ControlMaster: session open)", cliReused),
        ]
        let width = rows.map(\.0.count).max()!
        print(pad("", width) + "      p50 ms    p95 ms")
        for (name, samples) in rows {
            print(pad(name, width) + " " + milliseconds(percentile(samples, 0.5)) + " " + milliseconds(percentile(samples, 0.95)))
        }
        print("")
        let ratio = seconds(percentile(berth, 0.5)) / seconds(percentile(cliReused, 0.5))
        let ratioCold = seconds(percentile(berth, 0.5)) / seconds(percentile(cli, 0.5))
        print("ratio berth / docker CLI with the session open (p50): \(String(format: "%.2f", ratio)) (goal ≤ 1.0: \(ratio <= 1.0 ? "met" : "missed"))")
        print("ratio berth / docker CLI logging in each time (p50): \(String(format: "%.2f", ratioCold))")

        for id in berthIDs { _ = try? await scheduler.cancel(id, reason: "benchmark done") }
        for handle in pluginHandles { try? await backend.remove(handle) }
        // Leave nothing behind: every container of this run, Berth's and the CLI's.
        for labels in [[BerthLabel.server: serverID], [BerthLabel.server + ".bench": serverID]] {
            for object in (try? await backend.list(labels: labels)) ?? [] {
                try? await backend.remove(object.handle)
            }
        }
        await scheduler.shutdown()
        await schedulerTask.value
        await supervisor.shutdown()
        await plugins.shutdown()
        await store.shutdown()
    }

    /// Starts one container with the Docker CLI over SSH (`run -d` returns once it runs),
    /// labelled `berth.server.bench=<label>` for the clean-up. `reuse` goes through the `-mux`
    /// host alias, whose SSH connection stays open between commands (ControlMaster).
    static func docker(_ sshHost: String, reuse: Bool, _ image: String, label: String) throws -> Duration {
        let clock = ContinuousClock()
        let began = clock.now
        try run([
            "docker", "-H", "ssh://\(reuse ? sshHost + "-mux" : sshHost)", "run", "-d", "--network", "none",
            "--label", "\(BerthLabel.server).bench=\(label)", image, "sleep", "30",
        ])
        return clock.now - began
    }

    /// Runs a command and returns its stdout; throws with its stderr when it fails.
    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let output = Pipe()
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("berth-bench-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errors) }
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errors)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw PluginError(.internal, "\(arguments.joined(separator: " ")) exited with \(process.terminationStatus): \(message)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    static func measure(_ runs: Int, _ once: () async throws -> Duration) async throws -> [Duration] {
        _ = try await once()  // warm-up: session login, image check, first container
        var samples: [Duration] = []
        for _ in 0..<runs { samples.append(try await once()) }
        return samples
    }

    static func measure(_ runs: Int, _ once: () throws -> Duration) throws -> [Duration] {
        _ = try once()
        var samples: [Duration] = []
        for _ in 0..<runs { samples.append(try once()) }
        return samples
    }

    static func percentile(_ samples: [Duration], _ fraction: Double) -> Duration { DurationStats.percentile(samples, fraction) }

    static func seconds(_ duration: Duration) -> Double { DurationStats.seconds(duration) }

    static func milliseconds(_ duration: Duration) -> String {
        let text = String(format: "%.1f", seconds(duration) * 1000)
        return String(repeating: " ", count: max(0, 9 - text.count)) + text
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }
}
