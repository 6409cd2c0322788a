public import BerthCore
public import Foundation

extension PostgresStore {
    /// Stores an attempt with its runtime handle (recording it again replaces the handle and
    /// host), in one statement with the attempts other tasks record meanwhile.
    @discardableResult
    public func recordAttempt(_ attempt: Attempt) async throws(StoreError) -> ExecutionState {
        try await attemptRecords.submit(attempt).get()
    }

    /// Marks an attempt ended (the first end time wins), in one statement with the attempts
    /// other tasks finish meanwhile.
    public func finishAttempt(executionID: UUID, number: Int, at: Date) async throws(StoreError) {
        try await attemptEnds.submit(AttemptEnd(executionID: executionID, number: number, at: at)).get()
    }

    private struct AttemptRecord: Encodable {
        let index: Int
        let executionId: UUID
        let number: Int
        let host: String
        let runtimeHandle: String
        let startedUs: Int64
        let finishedUs: Int64?

        enum CodingKeys: String, CodingKey {
            case index, executionId = "execution_id", number, host, runtimeHandle = "runtime_handle"
            case startedUs = "started_us", finishedUs = "finished_us"
        }
    }

    /// Writes a batch of attempts; see ``WriteBatcher``.
    static func writeAttemptRecords(_ batch: [Attempt], pool: PostgresConnectionPool) async -> [Result<ExecutionState, StoreError>] {
        await writeEach(batch, operation: "record_attempt", execution: \.executionID, pool: pool) { batch, connection in
            let records = batch.enumerated().map { index, attempt in
                AttemptRecord(
                    index: index, executionId: attempt.executionID, number: attempt.number, host: attempt.host,
                    runtimeHandle: attempt.runtimeHandle, startedUs: PostgresTime.micros(attempt.startedAt),
                    finishedUs: attempt.finishedAt.map(PostgresTime.micros))
            }
            let rows = try await connection.query(
                """
                WITH t AS (
                    SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(
                        index integer, execution_id uuid, number integer, host text, runtime_handle text,
                        started_us bigint, finished_us bigint)
                ), r AS (
                    INSERT INTO attempts (execution_id, number, host, runtime_handle, started_at, finished_at)
                    SELECT execution_id, number, host, runtime_handle, berth_ts(started_us), berth_ts(finished_us)
                    FROM t ORDER BY index
                    ON CONFLICT (execution_id, number) DO UPDATE
                    SET host = EXCLUDED.host, runtime_handle = EXCLUDED.runtime_handle
                    RETURNING execution_id
                )
                SELECT t.index AS batch_index, x.state
                FROM t JOIN r ON r.execution_id = t.execution_id JOIN executions x ON x.id = t.execution_id
                """,
                [try SQLValues.json(records)]
            )
            let states = try byBatchIndex(rows, count: batch.count) { row in
                try ExecutionRow.required(ExecutionState(rawValue: try row.string("state")), "state")
            }
            return try requireEach(states) { index in
                "the attempt of execution \(batch[index].executionID) was not recorded"
            }
        }
    }

    /// The end of one attempt (see ``finishAttempt(executionID:number:at:)``).
    struct AttemptEnd: Sendable {
        let executionID: UUID
        let number: Int
        let at: Date
    }

    private struct AttemptEndRecord: Encodable {
        let index: Int
        let executionId: UUID
        let number: Int
        let atUs: Int64

        enum CodingKeys: String, CodingKey {
            case index, executionId = "execution_id", number, atUs = "at_us"
        }
    }

    /// Writes a batch of attempt ends; one whose attempt does not exist fails with `notFound`.
    static func writeAttemptEnds(_ batch: [AttemptEnd], pool: PostgresConnectionPool) async -> [Result<Void, StoreError>] {
        let written = await writeEach(batch, operation: "finish_attempt", execution: \.executionID, pool: pool) { batch, connection in
            let records = batch.enumerated().map { index, end in
                AttemptEndRecord(index: index, executionId: end.executionID, number: end.number, atUs: PostgresTime.micros(end.at))
            }
            let rows = try await connection.query(
                """
                WITH t AS (
                    SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(index integer, execution_id uuid, number integer, at_us bigint)
                )
                UPDATE attempts a SET finished_at = COALESCE(a.finished_at, berth_ts(t.at_us))
                FROM t WHERE a.execution_id = t.execution_id AND a.number = t.number
                RETURNING t.index AS batch_index
                """,
                [try SQLValues.json(records)]
            )
            return try byBatchIndex(rows, count: batch.count) { _ in true }.map { $0 ?? false }
        }
        return zip(batch, written).map { end, result in
            result.flatMap { found in
                found ? .success(()) : .failure(StoreError(code: .notFound, message: "no attempt \(end.number)", executionID: end.executionID, query: "finish_attempt"))
            }
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
