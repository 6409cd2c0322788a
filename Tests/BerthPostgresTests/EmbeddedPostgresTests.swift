import BerthTestSupport
import BerthCore
@testable import BerthPostgres
import Foundation
import Testing

@Suite struct EmbeddedPostgresTests {
    /// Whether any process's command line names this cluster folder.
    static func processesUsing(_ folder: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { Int($0) != nil }.compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let command = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
            return command.contains(folder) ? "\(pid): \(command)" : nil
        }
    }

    static func selectOne(_ configuration: PostgresConfiguration) async throws -> Int64 {
        let connection = try await PostgresConnection.connect(configuration)
        defer { _ = connection }
        let value = try await connection.query("SELECT 1 + 1 AS two")[0].requiredInt64("two")
        await connection.close()
        return value
    }

    @Test(arguments: [false, true])
    func startsServesStopsAndRestarts(longPath: Bool) async throws {
        var folder = FileManager.default.temporaryDirectory.appendingPathComponent("berth-embedded-\(UUID().uuidString.prefix(8))")
        if longPath { folder = folder.appendingPathComponent(String(repeating: "d", count: 90)) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let cluster = EmbeddedPostgres(dataDirectory: folder, logger: TestServer.logger)

        let configuration = try await cluster.start()
        let socketFolder = try #require(await cluster.currentSocketDirectory)
        #expect(longPath == socketFolder.hasPrefix("/tmp/berth-pg-"))
        #expect(FileManager.default.fileExists(atPath: "\(socketFolder)/.s.PGSQL.5432"))
        #expect(try await Self.selectOne(configuration) == 2)
        let first = try await PostgresConnection.connect(configuration)
        try await first.execute("CREATE TABLE survives (x int); INSERT INTO survives VALUES (42)")
        await first.close()

        try await cluster.stop()
        // pg_ctl returns once the postmaster removed its pid file; on a loaded machine its last
        // process may take a moment more to exit.
        var lingering = Self.processesUsing(cluster.clusterDirectory.path)
        for _ in 0..<50 where !lingering.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            lingering = Self.processesUsing(cluster.clusterDirectory.path)
        }
        #expect(lingering.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(socketFolder)/.s.PGSQL.5432"))
        if longPath { #expect(!FileManager.default.fileExists(atPath: socketFolder)) }
        #expect(!FileManager.default.fileExists(atPath: cluster.clusterDirectory.appendingPathComponent("postmaster.pid").path))

        // A stale postmaster.pid (process long gone) must not stop the next start.
        try "999999\n\(cluster.clusterDirectory.path)\n0\n5432\n/nowhere\n\n".write(
            to: cluster.clusterDirectory.appendingPathComponent("postmaster.pid"), atomically: true, encoding: .utf8
        )
        let again = try await cluster.start()
        let connection = try await PostgresConnection.connect(again)
        #expect(try await connection.query("SELECT x FROM survives")[0].requiredInt64("x") == 42)
        await connection.close()

        // A second start while running adopts the running server.
        let adopted = try await EmbeddedPostgres(dataDirectory: folder, logger: TestServer.logger).start()
        #expect(try await Self.selectOne(adopted) == 2)

        try await cluster.stop()
        // pg_ctl returns once the pid file is gone; the postmaster exits a moment later.
        var left = Self.processesUsing(cluster.clusterDirectory.path)
        for _ in 0..<50 where !left.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            left = Self.processesUsing(cluster.clusterDirectory.path)
        }
        #expect(left.isEmpty)
    }
}
