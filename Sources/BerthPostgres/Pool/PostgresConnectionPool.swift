public import Logging

/// A bounded pool of ``PostgresConnection``s with scoped leases.
///
/// At most `maxConnections` are open; a lease beyond that waits until one is returned. A
/// connection that comes back broken or inside a transaction is closed, not reused.
public final class PostgresConnectionPool: Sendable {
    /// Where the connections go.
    public let configuration: PostgresConfiguration
    /// The most connections open at once.
    public let maxConnections: Int
    private let state: PoolState
    private let logger: Logger

    /// Creates a pool; connections open lazily on first use.
    /// - Parameters:
    ///   - configuration: Where to connect.
    ///   - maxConnections: The most connections open at once (at least 1).
    ///   - logger: Where to log openings and failures.
    public init(configuration: PostgresConfiguration, maxConnections: Int = 8, logger: Logger) {
        self.configuration = configuration
        self.maxConnections = max(1, maxConnections)
        self.logger = logger
        self.state = PoolState(configuration: configuration, maxConnections: max(1, maxConnections), logger: logger)
    }

    /// Leases a connection for the duration of `body`.
    /// - Parameter body: Uses the connection; must not keep it.
    /// - Returns: What `body` returns.
    @discardableResult
    public func withConnection<T>(
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        let connection = try await state.lease()
        do {
            let result = try await body(connection)
            await state.release(connection)
            return result
        } catch {
            await state.release(connection)
            throw error
        }
    }

    /// Runs `body` in a transaction: `BEGIN`, then `COMMIT` if `body` returns or `ROLLBACK` if it throws.
    /// - Parameter body: Uses the connection inside the transaction; must not keep it.
    /// - Returns: What `body` returns.
    @discardableResult
    public func withTransaction<T>(
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withConnection { connection in
            try await connection.execute("BEGIN")
            let result: T
            do {
                result = try await body(connection)
            } catch {
                do { try await connection.execute("ROLLBACK") } catch let rollback {
                    logger.warning("rollback failed", metadata: ["error": "\(rollback)", "connection": "\(connection.label)"])
                }
                throw error
            }
            try await connection.execute("COMMIT")
            return result
        }
    }

    /// Closes idle connections and refuses further leases; leased ones close when returned.
    public func shutdown() async {
        await state.shutdown()
    }
}

/// The pool's bookkeeping, serialised by the actor.
private actor PoolState {
    private let configuration: PostgresConfiguration
    private let maxConnections: Int
    private let logger: Logger
    private var idle: [PostgresConnection] = []
    private var open = 0
    private var counter = 0
    private var closed = false
    /// Tasks waiting for a connection; resumed with `true` to try again, or `false` when closed.
    private var waiters: [CheckedContinuation<Bool, Never>] = []

    init(configuration: PostgresConfiguration, maxConnections: Int, logger: Logger) {
        self.configuration = configuration
        self.maxConnections = maxConnections
        self.logger = logger
    }

    func lease() async throws(PostgresError) -> PostgresConnection {
        while true {
            guard !closed else { throw PostgresError(code: .poolClosed, message: "the connection pool is shut down") }
            if let connection = idle.popLast() { return connection }
            if open < maxConnections {
                open += 1
                counter += 1
                let label = "postgres-\(counter)"
                do {
                    let connection = try await PostgresConnection.connect(configuration, label: label)
                    logger.debug("opened connection", metadata: ["connection": "\(label)", "open": "\(open)"])
                    return connection
                } catch {
                    open -= 1
                    wakeOne()
                    logger.warning("could not open connection", metadata: ["error": "\(error)"])
                    throw error
                }
            }
            let again = await withCheckedContinuation { waiters.append($0) }
            if !again { throw PostgresError(code: .poolClosed, message: "the connection pool is shut down") }
        }
    }

    func release(_ connection: PostgresConnection) async {
        if !closed, connection.isReusable {
            idle.append(connection)
        } else {
            open -= 1
            logger.debug("closing connection", metadata: ["connection": "\(connection.label)", "open": "\(open)"])
            await connection.close()
        }
        wakeOne()
    }

    func shutdown() async {
        closed = true
        let waiting = waiters
        waiters = []
        waiting.forEach { $0.resume(returning: false) }
        let connections = idle
        idle = []
        open -= connections.count
        for connection in connections { await connection.close() }
    }

    private func wakeOne() {
        if !waiters.isEmpty { waiters.removeFirst().resume(returning: true) }
    }
}
