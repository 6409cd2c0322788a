import Foundation
public import Logging

/// Applies ``Migration``s: each in its own transaction, recorded in `schema_migrations`, under
/// a transaction-scoped advisory lock so that servers migrating at once take turns. Running it
/// again applies nothing.
public struct PostgresMigrator: Sendable {
    /// The advisory lock key every migrating server takes (`pg_advisory_xact_lock`).
    public static let advisoryLockKey: Int64 = 0x6265_7274_685f_6d67  // "berth_mg"

    private let pool: PostgresConnectionPool
    private let migrations: [Migration]
    private let logger: Logger

    /// Creates a migrator.
    /// - Parameters:
    ///   - pool: Where to apply.
    ///   - migrations: What to apply; defaults to ``Migration/all``.
    ///   - logger: Where to log applied versions.
    public init(pool: PostgresConnectionPool, migrations: [Migration] = Migration.all, logger: Logger) {
        self.pool = pool
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.logger = logger
    }

    /// Applies the migrations not applied yet.
    /// - Returns: The versions applied by this call.
    @discardableResult
    public func migrate() async throws -> [Int] {
        try await pool.withTransaction { connection in
            try await lock(connection)
            try await connection.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer PRIMARY KEY,
                    name       text NOT NULL,
                    checksum   text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """)
        }
        var applied: [Int] = []
        for migration in migrations {
            let didApply = try await pool.withTransaction { connection in
                try await lock(connection)
                let existing = try await connection.query(
                    "SELECT checksum FROM schema_migrations WHERE version = $1", [PostgresBind(migration.version)]
                )
                if let row = existing.first {
                    let checksum = try row.string("checksum")
                    if checksum != migration.checksum {
                        logger.warning("applied migration differs from the embedded one", metadata: [
                            "version": "\(migration.version)", "stored_checksum": "\(checksum)",
                            "embedded_checksum": "\(migration.checksum)",
                        ])
                    }
                    return false
                }
                try await connection.execute(migration.sql)
                try await connection.query(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    [PostgresBind(migration.version), PostgresBind(migration.name), PostgresBind(migration.checksum)]
                )
                return true
            }
            if didApply {
                applied.append(migration.version)
                logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
        }
        return applied
    }

    private func lock(_ connection: PostgresConnection) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock($1)", [PostgresBind(Self.advisoryLockKey)])
    }
}
