public import BerthCore
import Foundation
public import Logging

/// Leadership through a session-level advisory lock (`pg_try_advisory_lock(key)`) held on a
/// dedicated connection, outside the pool.
///
/// The lock lives exactly as long as the session: if the connection drops (network, server
/// restart, `pg_terminate_backend`), PostgreSQL releases it and another server can take it.
/// ``isHeld()`` notices a dropped connection with a `SELECT 1` and reports the loss.
public actor PostgresLeaderLock: LeaderLock {
    private let configuration: PostgresConfiguration
    private let key: Int64
    private let logger: Logger
    private var connection: PostgresConnection?
    private var held = false

    /// A lock on `key` in the database `configuration` names; nothing connects until ``acquire()``.
    public init(configuration: PostgresConfiguration, key: Int64, logger: Logger) {
        self.configuration = configuration
        self.key = key
        self.logger = logger
    }

    /// Tries `pg_try_advisory_lock` once, connecting first if needed.
    public func acquire() async throws(StoreError) -> Bool {
        if held {
            if await isHeld() { return true }
        }
        do throws(PostgresError) {
            let connection: PostgresConnection
            if let existing = self.connection {
                connection = existing
            } else {
                connection = try await PostgresConnection.connect(configuration, label: "leader-lock")
                self.connection = connection
                // A leader whose machine vanishes without closing the connection loses the lock
                // when PostgreSQL's keepalive gives up on it: after about 5 + 3 × 1 s (TCP only).
                try await connection.query("SET tcp_keepalives_idle = 5")
                try await connection.query("SET tcp_keepalives_interval = 1")
                try await connection.query("SET tcp_keepalives_count = 3")
            }
            let rows = try await connection.query("SELECT pg_try_advisory_lock($1::bigint) AS locked", [PostgresBind(key)])
            held = try rows.first?.bool("locked") ?? false
            if held { logger.info("leader lock acquired", metadata: ["key": "\(key)"]) }
            return held
        } catch {
            await dropConnection()
            throw StoreError(code: .unavailable, message: "could not take the leader lock: \(error.message)", query: "leader_lock", cause: error)
        }
    }

    /// Whether the session holding the lock is still alive.
    public func isHeld() async -> Bool {
        guard held, let connection else { return false }
        do {
            try await connection.query("SELECT 1")
            return true
        } catch {
            logger.warning("leader lock lost: its connection broke", metadata: ["key": "\(key)", "error": "\(error)"])
            await dropConnection()
            return false
        }
    }

    /// Unlocks and closes the connection.
    public func release() async {
        if held, let connection {
            _ = try? await connection.query("SELECT pg_advisory_unlock($1::bigint)", [PostgresBind(key)])
            logger.info("leader lock released", metadata: ["key": "\(key)"])
        }
        await dropConnection()
    }

    private func dropConnection() async {
        held = false
        if let connection {
            self.connection = nil
            await connection.close()
        }
    }
}
