import BerthClient
import BerthPluginKit
import BerthPostgres
import BerthTestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One `berth serve` process (the release binary beside this one) on a fresh database of the
/// test PostgreSQL, with the hosts a benchmark asks for; stopped and its database dropped by
/// ``stop()``.
final class Deployment {
    let url: String
    let client: BerthClient
    let token: String
    let process: Process
    private let folder: URL
    private let database: String
    private let admin: PostgresConfiguration

    /// Starts a server whose configuration has `hosts` (YAML list items) and `extra` top-level YAML.
    init(hosts: String, extra: String = "", logLevel: String? = nil) async throws {
        let environment = ProcessInfo.processInfo.environment
        // BERTH_PERF_LOG_LEVEL=info shows what the servers do, for a closer look at one benchmark.
        let logLevel = logLevel ?? environment["BERTH_PERF_LOG_LEVEL"] ?? "warning"
        guard let base = environment["BERTH_TEST_DATABASE_URL"] else { throw PerfError("BERTH_TEST_DATABASE_URL is not set: run bench/perf.sh") }
        admin = PostgresConfiguration(connectionString: base)
        database = "berth_perf_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12)
        let connection = try await PostgresConnection.connect(admin, label: "perf-admin")
        try await connection.execute("CREATE DATABASE \(try await connection.quoteIdentifier(database))")
        await connection.close()
        guard let slash = base.lastIndex(of: "/") else { throw PerfError("BERTH_TEST_DATABASE_URL has no database: \(base)") }
        let databaseURL = base[..<slash] + "/" + database
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("berth-perf-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let port = try freePort()
        url = "http://127.0.0.1:\(port)"
        let config = folder.appendingPathComponent("berth.yaml")
        try """
            listen: {host: 127.0.0.1, port: \(port)}
            database: {url: "\(databaseURL)"}
            data_dir: \(folder.path)/data
            log_level: \(logLevel)
            limits: {max_log_follows_per_token: 1000}
            \(extra)
            hosts:
            \(hosts)
            """.write(to: config, atomically: true, encoding: .utf8)
        process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("berth")
        process.arguments = ["serve", "--config", config.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/stderr")
        try process.run()
        let tokenFile = folder.path + "/data/admin.token"
        var token: String?
        for _ in 0..<600 {
            if let text = try? String(contentsOfFile: tokenFile, encoding: .utf8), !text.isEmpty,
               await BerthClient(baseURL: url).isReady() {
                token = text.trimmingCharacters(in: .whitespacesAndNewlines)
                break
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard let token else { throw PerfError("berth serve did not become ready at \(url)") }
        self.token = token
        client = BerthClient(baseURL: url, token: token)
    }

    /// The server's process id.
    var pid: Int32 { process.processIdentifier }

    /// Stops the server (SIGTERM), drops its database and removes its folder.
    func stop() async {
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            for _ in 0..<300 where process.isRunning { try? await Task.sleep(for: .milliseconds(100)) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        if let connection = try? await PostgresConnection.connect(admin, label: "perf-admin") {
            if let name = try? await connection.quoteIdentifier(database) {
                try? await connection.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            }
            await connection.close()
        }
        try? FileManager.default.removeItem(at: folder)
    }

    /// How many executions are in `state` (straight from the database).
    func count(state: String) async throws -> Int {
        let connection = try await PostgresConnection.connect(admin.withDatabase(database), label: "perf-count")
        let rows: PostgresRows
        do {
            rows = try await connection.query("SELECT count(*) AS n FROM executions WHERE state = '\(state)'")
        } catch {
            await connection.close()
            throw error
        }
        await connection.close()
        return Int(try rows.first?.int64("n") ?? 0)
    }

    /// Submits `body`; returns the execution's id.
    func submit(_ body: JSONValue) async throws -> String {
        try await client.submit(body).id
    }
}

/// Why a benchmark could not run.
struct PerfError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
