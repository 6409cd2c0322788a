import BerthTestSupport
import BerthCore
@testable import BerthPostgres
import Foundation
import Testing

extension PostgresTests {
    @Suite struct Migrations {
        /// What the schema looks like: columns, indexes, constraints, functions, triggers.
        static func catalog(_ connection: PostgresConnection) async throws -> [String] {
            let rows = try await connection.query("""
                SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable AS item
                  FROM information_schema.columns WHERE table_schema = 'public'
                UNION ALL SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
                UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid)
                  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
                UNION ALL SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace
                UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal
                ORDER BY 1
                """)
            return try rows.map { try $0.string("item") }
        }

        @Test func runningTwiceChangesNothing() async throws {
            try await TestServer.withFreshDatabase { configuration in
                let pool = PostgresConnectionPool(configuration: configuration, maxConnections: 2, logger: TestServer.logger)
                let migrator = PostgresMigrator(pool: pool, logger: TestServer.logger)
                let first = try await migrator.migrate()
                #expect(first == Migration.all.map(\.version))
                let (countAfterFirst, catalogAfterFirst) = try await pool.withConnection { connection in
                    (try await connection.query("SELECT count(*) AS n FROM schema_migrations")[0].requiredInt64("n"),
                     try await Self.catalog(connection))
                }
                let second = try await migrator.migrate()
                #expect(second.isEmpty)
                let (countAfterSecond, catalogAfterSecond) = try await pool.withConnection { connection in
                    (try await connection.query("SELECT count(*) AS n FROM schema_migrations")[0].requiredInt64("n"),
                     try await Self.catalog(connection))
                }
                #expect(countAfterFirst == Int64(Migration.all.count))
                #expect(countAfterSecond == countAfterFirst)
                #expect(catalogAfterSecond == catalogAfterFirst)
                #expect(catalogAfterFirst.contains { $0.hasPrefix("column executions.state ") })
                #expect(catalogAfterFirst.contains { $0.hasPrefix("column api_tokens.token_hash ") })
                #expect(catalogAfterFirst.contains { $0.hasPrefix("index executions_queue_idx ") })
                await pool.shutdown()
            }
        }

        @Test func concurrentMigrationsTakeTurns() async throws {
            try await TestServer.withFreshDatabase { configuration in
                let pools = (0..<3).map { _ in PostgresConnectionPool(configuration: configuration, maxConnections: 1, logger: TestServer.logger) }
                let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                    for pool in pools { group.addTask { try await PostgresMigrator(pool: pool, logger: TestServer.logger).migrate() } }
                    var all: [[Int]] = []
                    for try await result in group { all.append(result) }
                    return all
                }
                #expect(applied.flatMap { $0 }.sorted() == Migration.all.map(\.version))
                let count = try await pools[0].withConnection { try await $0.query("SELECT count(*) AS n FROM schema_migrations")[0].requiredInt64("n") }
                #expect(count == Int64(Migration.all.count))
                for pool in pools { await pool.shutdown() }
            }
        }
    }
}

@Suite struct MigrationCatalogTests {
    @Test func catalogMatchesTheMigrationsFolder() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/BerthPostgres/Migrations").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }.sorted()
        let expected = Migration.all.map { String(format: "%04d_%@.sql", $0.version, $0.name) }
        #expect(files == expected)
        for migration in Migration.all {
            let text = try String(contentsOf: folder.appendingPathComponent(String(format: "%04d_%@.sql", migration.version, migration.name)), encoding: .utf8)
            #expect(text == migration.sql, "embedded SQL of \(migration.version) differs from the file")
        }
    }
}
