public import BerthPostgres
import Foundation
public import Logging
public import Testing

/// The PostgreSQL server the tests use: `BERTH_TEST_DATABASE_URL` when set, else an embedded
/// cluster in a temporary folder that lives for the suite. Each test gets a fresh database.
public struct TestServer: Sendable {
    /// The server of the running suite.
    @TaskLocal public static var current: TestServer?

    /// Connects to the server's maintenance database.
    public let base: PostgresConfiguration

    /// The tests' logger: warnings only, unless `BERTH_TEST_LOG` is set.
    public static var logger: Logger {
        var logger = Logger(label: "berth.tests")
        logger.logLevel = ProcessInfo.processInfo.environment["BERTH_TEST_LOG"] == nil ? .warning : .debug
        return logger
    }

    /// Runs `body` with a new, migrated-or-not database that is dropped afterwards.
    public static func withFreshDatabase<T>(_ body: (PostgresConfiguration) async throws -> T) async throws -> T {
        let server = try #require(current, "tests must run inside a suite with the .postgresServer trait")
        let name = "berth_t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let admin = try await PostgresConnection.connect(server.base, label: "test-admin")
        try await admin.execute("CREATE DATABASE \(try await admin.quoteIdentifier(String(name)))")
        let result: T
        do {
            result = try await body(server.base.withDatabase(String(name)))
        } catch {
            try? await admin.execute("DROP DATABASE \(try await admin.quoteIdentifier(String(name))) WITH (FORCE)")
            await admin.close()
            throw error
        }
        try await admin.execute("DROP DATABASE \(try await admin.quoteIdentifier(String(name))) WITH (FORCE)")
        await admin.close()
        return result
    }

    /// Runs `body` with a migrated ``PostgresStore`` on a fresh database, shut down afterwards.
    public static func withStore<T>(
        maxConnections: Int = 4, maxLogBytesPerExecution: Int64 = PostgresStore.defaultMaxLogBytesPerExecution,
        _ body: (PostgresStore, PostgresConfiguration) async throws -> T
    ) async throws -> T {
        try await withFreshDatabase { configuration in
            let store = PostgresStore(
                configuration: configuration, maxConnections: maxConnections, maxLogBytesPerExecution: maxLogBytesPerExecution, logger: logger)
            do {
                try await store.migrate()
                let result = try await body(store, configuration)
                await store.shutdown()
                return result
            } catch {
                await store.shutdown()
                throw error
            }
        }
    }
}

/// Provides a PostgreSQL server for a whole suite (and its nested suites).
public struct PostgresServerTrait: SuiteTrait, TestScoping {
    /// Starts or connects to the server around the suite.
    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        if let url = ProcessInfo.processInfo.environment["BERTH_TEST_DATABASE_URL"], !url.isEmpty {
            try await TestServer.$current.withValue(TestServer(base: PostgresConfiguration(connectionString: url))) {
                try await function()
            }
            return
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("berth-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let cluster = EmbeddedPostgres(dataDirectory: folder, logger: TestServer.logger)
        let configuration = try await cluster.start()
        do {
            try await TestServer.$current.withValue(TestServer(base: configuration)) { try await function() }
        } catch {
            try? await cluster.stop()
            try? FileManager.default.removeItem(at: folder)
            throw error
        }
        try await cluster.stop()
        try? FileManager.default.removeItem(at: folder)
    }
}

extension Trait where Self == PostgresServerTrait {
    /// A PostgreSQL server for the suite; see ``TestServer``.
    public static var postgresServer: Self { PostgresServerTrait() }
}

