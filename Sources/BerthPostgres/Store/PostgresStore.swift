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
    /// State changes, written in batches when they come faster than one statement returns.
    let transitions: WriteBatcher<TransitionRequest, TransitionOutcome>
    /// New executions, written in batches the same way.
    let creations: WriteBatcher<NewExecution, Execution>
    /// Attempts' handles, written in batches the same way.
    let attemptRecords: WriteBatcher<Attempt, ExecutionState>
    /// Attempts' ends, written in batches the same way.
    let attemptEnds: WriteBatcher<AttemptEnd, Void>

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
        let pool = PostgresConnectionPool(configuration: configuration, maxConnections: maxConnections, logger: logger)
        self.pool = pool
        // Two batches in flight at most: the other connections stay free for reads.
        self.transitions = WriteBatcher(maxBatch: 256, maxInFlight: 2, key: \.id) { batch in
            await Self.writeTransitions(batch, pool: pool)
        }
        self.creations = WriteBatcher(maxBatch: 256, maxInFlight: 2, key: { $0.id ?? UUID() }) { batch in
            await Self.writeCreations(batch, pool: pool)
        }
        self.attemptRecords = WriteBatcher(maxBatch: 256, maxInFlight: 2, key: \.executionID) { batch in
            await Self.writeAttemptRecords(batch, pool: pool)
        }
        self.attemptEnds = WriteBatcher(maxBatch: 256, maxInFlight: 2, key: \.executionID) { batch in
            await Self.writeAttemptEnds(batch, pool: pool)
        }
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
        } catch {
            if error is PostgresError {
                logger.debug("store operation failed", metadata: [
                    "operation": "\(operation)", "execution": "\(execution?.uuidString.lowercased() ?? "-")",
                    "error": "\(error)",
                ])
            }
            throw Self.storeError(error, operation: operation, execution: execution)
        }
    }

    /// `error` as a ``StoreError`` that names the operation and execution.
    static func storeError(_ error: any Error, operation: String, execution: UUID?) -> StoreError {
        switch error {
        case let error as StoreError: error
        case let error as PostgresError: map(error, operation: operation, execution: execution)
        default:
            StoreError(
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
