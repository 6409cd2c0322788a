public import BerthCore
import Foundation
public import Logging

/// The ``Store`` on PostgreSQL: a bounded connection pool for queries and a dedicated LISTEN
/// connection for notifications.
public final class PostgresStore: Store {
    /// The pool the Store's queries use; available for server-side needs such as an advisory lock.
    public let pool: PostgresConnectionPool
    /// The LISTEN connection behind ``notifications()``.
    public let listener: PostgresListener
    let logger: Logger
    /// The most output bytes stored per execution (all attempts, both streams); past it a
    /// marker chunk says where the output was cut and the rest is dropped.
    public let maxLogBytesPerExecution: Int64

    /// The default of ``maxLogBytesPerExecution``: 256 MiB.
    public static let defaultMaxLogBytesPerExecution: Int64 = 256 << 20

    /// Creates a Store; nothing connects until first use. Call ``migrate()`` at start-up and
    /// ``shutdown()`` at the end.
    /// - Parameters:
    ///   - configuration: Where the database is.
    ///   - maxConnections: The pool's bound.
    ///   - maxLogBytesPerExecution: The log cap of each execution.
    ///   - logger: Where to log.
    public init(
        configuration: PostgresConfiguration, maxConnections: Int = 8,
        maxLogBytesPerExecution: Int64 = PostgresStore.defaultMaxLogBytesPerExecution,
        logger: Logger = Logger(label: "berth.store")
    ) {
        self.maxLogBytesPerExecution = maxLogBytesPerExecution
        self.pool = PostgresConnectionPool(configuration: configuration, maxConnections: maxConnections, logger: logger)
        self.listener = PostgresListener(
            configuration: configuration,
            channels: [StoreNotification.executionsChannel, StoreNotification.logsChannel, StoreNotification.tokensChannel],
            logger: logger
        )
        self.logger = logger
    }

    /// Applies pending migrations (see ``PostgresMigrator``).
    public func migrate() async throws(StoreError) {
        try await perform("migrate") {
            try await PostgresMigrator(pool: pool, logger: logger).migrate()
        }
    }

    /// A new stream of notifications; see ``Store/notifications()``.
    public func notifications() -> AsyncStream<StoreNotification> {
        listener.subscribe()
    }

    /// Stops the listener (finishing every notification stream) and closes the pool.
    public func shutdown() async {
        await listener.stop()
        await pool.shutdown()
    }

    /// Runs `body`, turning any failure into a ``StoreError`` that names the operation and execution.
    @discardableResult
    func perform<T>(
        _ operation: String, execution: UUID? = nil, _ body: () async throws -> T
    ) async throws(StoreError) -> T {
        do {
            return try await body()
        } catch let error as StoreError {
            throw error
        } catch let error as PostgresError {
            let mapped = Self.map(error, operation: operation, execution: execution)
            logger.debug("store operation failed", metadata: [
                "operation": "\(operation)", "execution": "\(execution?.uuidString.lowercased() ?? "-")",
                "error": "\(error)",
            ])
            throw mapped
        } catch {
            throw StoreError(
                code: .internalError, message: "\(error)", executionID: execution, query: operation,
                cause: error as (any Error & Sendable)
            )
        }
    }

    private static func map(_ error: PostgresError, operation: String, execution: UUID?) -> StoreError {
        let code: StoreError.Code
        switch error.code {
        case .connectionFailed, .connectionBroken, .poolClosed: code = .unavailable
        case .decodingFailed: code = .corruptData
        default:
            switch error.sqlState {
            case "23514": code = .invalidArgument  // check_violation, including the terminal-state guard
            case let state? where state.hasPrefix("23"): code = .conflict
            case let state? where state.hasPrefix("22"): code = .invalidArgument
            case let state? where state.hasPrefix("08") || state.hasPrefix("57P"): code = .unavailable
            default: code = operation == "migrate" ? .migrationFailed : .internalError
            }
        }
        return StoreError(code: code, message: error.message, executionID: execution, query: operation, cause: error)
    }
}
