public import BerthCore
public import Foundation

extension PostgresStore {
    /// Stores an attempt with its runtime handle; recording it again replaces the handle and host.
    public func recordAttempt(_ attempt: Attempt) async throws(StoreError) {
        try await perform("record_attempt", execution: attempt.executionID) {
            try await pool.withConnection { connection in
                try await connection.query(
                    """
                    INSERT INTO attempts (execution_id, number, host, runtime_handle, started_at, finished_at)
                    VALUES ($1, $2, $3, $4, berth_ts($5::bigint), berth_ts($6::bigint))
                    ON CONFLICT (execution_id, number) DO UPDATE
                    SET host = EXCLUDED.host, runtime_handle = EXCLUDED.runtime_handle
                    """,
                    [
                        PostgresBind(attempt.executionID), PostgresBind(attempt.number), PostgresBind(attempt.host),
                        PostgresBind(attempt.runtimeHandle), PostgresBind(micros: attempt.startedAt),
                        attempt.finishedAt.map { PostgresBind(micros: $0) },
                    ]
                )
            }
        }
    }

    /// Marks an attempt ended (the first end time wins).
    public func finishAttempt(executionID: UUID, number: Int, at: Date) async throws(StoreError) {
        let rows = try await perform("finish_attempt", execution: executionID) {
            try await pool.withConnection { connection in
                try await connection.query(
                    """
                    UPDATE attempts SET finished_at = COALESCE(finished_at, berth_ts($3::bigint))
                    WHERE execution_id = $1 AND number = $2
                    """,
                    [PostgresBind(executionID), PostgresBind(number), PostgresBind(micros: at)]
                )
            }
        }
        if rows.affectedRows == 0 {
            throw StoreError(code: .notFound, message: "no attempt \(number)", executionID: executionID, query: "finish_attempt")
        }
    }

    /// The attempts of an execution, oldest first.
    public func attempts(of executionID: UUID) async throws(StoreError) -> [Attempt] {
        try await selectAttempts("list_attempts", execution: executionID, "WHERE execution_id = $1 ORDER BY number", [PostgresBind(executionID)])
    }

    /// All attempts not finished yet.
    public func unfinishedAttempts() async throws(StoreError) -> [Attempt] {
        try await selectAttempts("unfinished_attempts", execution: nil, "WHERE finished_at IS NULL ORDER BY started_at, execution_id, number", [])
    }

    private func selectAttempts(
        _ operation: String, execution: UUID?, _ tail: String, _ parameters: [PostgresBind?]
    ) async throws(StoreError) -> [Attempt] {
        try await perform(operation, execution: execution) {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    SELECT execution_id, number, host, runtime_handle, berth_us(started_at) AS started_us,
                           berth_us(finished_at) AS finished_us
                    FROM attempts \(tail)
                    """,
                    parameters
                )
            }
            return try rows.map { row in
                Attempt(
                    executionID: try ExecutionRow.required(row.uuid("execution_id"), "execution_id"),
                    number: Int(try row.requiredInt64("number")),
                    host: try row.string("host"),
                    runtimeHandle: try row.string("runtime_handle"),
                    startedAt: try ExecutionRow.required(row.date(micros: "started_us"), "started_us"),
                    finishedAt: try row.date(micros: "finished_us")
                )
            }
        }
    }
}
