import BerthClient
import BerthPluginKit
import BerthPostgres
import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A Berth deployment for the fault tests: its own PostgreSQL cluster (so a test can restart
/// it), one or more `berth serve` processes sharing it, and the two test Docker engines (the
/// local one as host `local`, the remote one over the test sshd as host `remote`).
final class FaultRig {
    /// One row of `scripts/faults.sh`'s table.
    struct Report {
        var scenario: String
        var executions: Int
        var lost: Int
        var duplicated: Int
        var orphaned: Int
    }

    let folder: URL
    let postgres: EmbeddedPostgres
    let databaseURL: String
    let serverID: String
    let ports: [Int]
    private(set) var servers: [Int: Subprocess] = [:]

    /// Starts the cluster and writes one configuration per instance; no server runs yet.
    init(instances: Int = 1, maxConcurrent: Int = 60, failoverSeconds: Int = 5) async throws {
        folder = try temporaryFolder("bft")
        // World-traversable, so that the cluster (run as `postgres` under root) reaches its folder.
        let pg = folder.appendingPathComponent("pg")
        try FileManager.default.createDirectory(at: pg, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        postgres = EmbeddedPostgres(dataDirectory: pg)
        databaseURL = try await postgres.start().connectionString
        serverID = "berth-fault-\(UUID().uuidString.prefix(8).lowercased())"
        ports = try (0..<instances).map { _ in try freePort() }
        for (index, port) in ports.enumerated() {
            try """
                listen: {host: 127.0.0.1, port: \(port)}
                database: {url: "\(databaseURL)"}
                data_dir: \(folder.path)/data-\(index)
                server_id: \(serverID)
                default_host: local
                log_level: info
                leader_failover_seconds: \(failoverSeconds)
                secrets: {key_file: \(folder.path)/secrets.key}
                hosts:
                  - name: local
                    plugin: docker
                    max_concurrent: \(maxConcurrent)
                    settings: {socket_path: \(try TestEnvironment.dockerSocket()), pull_policy: never}
                  - name: remote
                    plugin: docker-ssh
                    max_concurrent: \(maxConcurrent)
                    settings:
                \(try remoteDockerSettingsYAML())
                      pull_policy: never
                """.write(to: configFile(index), atomically: true, encoding: .utf8)
        }
    }

    func configFile(_ index: Int) -> URL { folder.appendingPathComponent("berth-\(index).yaml") }

    func url(_ index: Int) -> String { "http://127.0.0.1:\(ports[index])" }

    /// A client of instance `index` with the deployment's first admin token (which instance 0,
    /// the first to start, wrote in its data folder).
    func client(_ index: Int) -> BerthClient {
        let token = try? String(contentsOfFile: "\(folder.path)/data-0/admin.token", encoding: .utf8)
        return BerthClient(baseURL: url(index), token: token?.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Starts instance `index` and waits until it answers `/readyz`.
    @discardableResult
    func start(_ index: Int) async throws -> Subprocess {
        let server = try Subprocess(Subprocess.berth, ["serve", "--config", configFile(index).path])
        servers[index] = server
        let client = client(index)
        for _ in 0..<600 {
            if await client.isReady() { return server }
            guard server.process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("server \(index) not ready; stderr:\n\(server.stderr.suffix(4000))")
        throw CancellationError()
    }

    /// `kill -9` of instance `index`.
    func kill9(_ index: Int) async throws {
        guard let server = servers.removeValue(forKey: index) else { return }
        server.signal(SIGKILL)
        _ = try await server.wait(timeout: 30)
    }

    /// The instance that leads now (the last one whose log says it became leader and that runs).
    func leader() -> Int? {
        servers.filter { $0.value.process.isRunning && $0.value.stderr.contains("became scheduler leader") }.keys.min()
    }

    /// Runs `body` with a new rig, torn down afterwards whether `body` throws or not.
    static func with(instances: Int = 1, maxConcurrent: Int = 60, _ body: (FaultRig) async throws -> Void) async throws {
        let rig = try await FaultRig(instances: instances, maxConcurrent: maxConcurrent)
        do {
            try await body(rig)
        } catch {
            await rig.tearDown()
            throw error
        }
        await rig.tearDown()
    }

    /// Stops every server (SIGTERM, exit 0 expected), the cluster, and removes the folder.
    func tearDown() async {
        for (index, server) in servers {
            server.signal(SIGTERM)
            let end = try? await server.wait(timeout: 60)
            if end?.status != 0 { Issue.record("server \(index) ended with \(String(describing: end?.status)); stderr:\n\(server.stderr.suffix(4000))") }
        }
        servers = [:]
        try? await postgres.stop()
        try? FileManager.default.removeItem(at: folder)
    }

    /// Submits `count` executions running `script(i)` on `host`; returns their ids in order.
    func submit(_ count: Int, host: String, via index: Int = 0, script: (Int) -> String) async throws -> [String] {
        var ids: [String] = []
        for i in 0..<count {
            let created = try await client(index).submit([
                "image": .string(TestEnvironment.localImage), "args": ["sh", "-c", .string(script(i))], "target_host": .string(host),
            ])
            ids.append(created.id)
        }
        return ids
    }

    /// Waits until every execution is terminal (polling through instance `index`).
    func waitTerminal(_ ids: [String], via index: Int, timeout: Duration) async throws -> [String: ExecutionView] {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var done: [String: ExecutionView] = [:]
        while clock.now < deadline {
            for id in ids where done[id] == nil {
                if let view = try? await client(index).get(id), view.isTerminal { done[id] = view }
            }
            if done.count == ids.count { return done }
            try await Task.sleep(for: .milliseconds(250))
        }
        Issue.record("\(ids.count - done.count) of \(ids.count) executions not terminal after \(timeout)")
        return done
    }

    /// An execution's stored output: (stdout, stderr).
    func output(_ id: String, via index: Int) async throws -> (String, String) {
        var out = ""
        var err = ""
        for try await line in client(index).logs(id) {
            if line.stream == .stdout { out += line.data } else { err += line.data }
        }
        return (out, err)
    }

    /// The containers of this deployment on an engine (`berth.execution` label of each).
    func containers(engine socket: String) async throws -> [String] {
        let ps = try await Subprocess("/usr/bin/docker", [
            "--host", "unix://\(socket)", "ps", "--all", "--filter", "label=\(BerthLabel.server)=\(serverID)",
            "--format", "{{.Label \"\(BerthLabel.execution)\"}}",
        ]).wait(timeout: 60)
        return ps.stdout.split(separator: "\n").map(String.init)
    }

    /// Polls `condition` every 250 ms until it holds; records an issue and throws after `timeout`.
    static func until(_ what: String, timeout: Duration, _ condition: () async throws -> Bool) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(250))
        }
        Issue.record("timed out after \(timeout): \(what)")
        throw CancellationError()
    }

    /// Both engines' sockets.
    static func engines() throws -> [String] {
        [try TestEnvironment.dockerSocket(), try TestEnvironment.require("BERTH_TEST_REMOTE_DOCKER_SOCKET")]
    }

    /// Adds `report` as a tab-separated line (scenario, executions, lost, duplicated, orphaned)
    /// to the file `BERTH_FAULT_REPORT` names, when set (see `scripts/faults.sh`).
    static func record(_ report: Report) {
        guard let path = ProcessInfo.processInfo.environment["BERTH_FAULT_REPORT"], !path.isEmpty else { return }
        let line = [report.scenario, "\(report.executions)", "\(report.lost)", "\(report.duplicated)", "\(report.orphaned)"]
            .joined(separator: "\t") + "\n"
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        handle.seekToEndOfFile()
        handle.write(Data(line.utf8))
        try? handle.close()
    }
}

/// Counts container starts per `berth.execution` on an engine while it runs: `docker events`,
/// streamed (the engine keeps only its last 256 events, too few to replay afterwards).
final class ContainerStartCounter {
    private let process: Subprocess

    init(engine socket: String, serverID: String) throws {
        process = try Subprocess("/usr/bin/docker", [
            "--host", "unix://\(socket)", "events", "--filter", "type=container", "--filter", "event=start",
            "--filter", "label=\(BerthLabel.server)=\(serverID)", "--format", "{{index .Actor.Attributes \"\(BerthLabel.execution)\"}}",
        ])
    }

    /// Stops listening and returns how many starts each execution had.
    func finish() async throws -> [String: Int] {
        try await Task.sleep(for: .milliseconds(500))
        process.signal(SIGTERM)
        let output = try await process.wait(timeout: 30)
        var counts: [String: Int] = [:]
        for line in output.stdout.split(separator: "\n") { counts[String(line), default: 0] += 1 }
        return counts
    }
}
