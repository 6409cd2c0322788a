public import BerthCore
public import Foundation

extension PostgresStore {
    /// The events of an execution in `seq` order.
    public func events(of executionID: UUID, afterSeq: Int64?, limit: Int) async throws(StoreError) -> [ExecutionEvent] {
        try await perform("list_events", execution: executionID) {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    SELECT seq, execution_id, from_state, to_state, reason, attempt, berth_us(at) AS at_us
                    FROM execution_events
                    WHERE execution_id = $1 AND seq > $2
                    ORDER BY seq LIMIT $3
                    """,
                    [PostgresBind(executionID), PostgresBind(afterSeq ?? 0), PostgresBind(max(1, limit))]
                )
            }
            return try rows.map { row in
                let to = try row.string("to_state")
                guard let toState = ExecutionState(rawValue: to) else {
                    throw PostgresError(code: .decodingFailed, message: "unknown execution state \"\(to)\"")
                }
                return ExecutionEvent(
                    seq: try row.requiredInt64("seq"),
                    executionID: try ExecutionRow.required(row.uuid("execution_id"), "execution_id"),
                    fromState: try row.text("from_state").flatMap(ExecutionState.init(rawValue:)),
                    toState: toState,
                    reason: try row.string("reason"),
                    at: try ExecutionRow.required(row.date(micros: "at_us"), "at_us"),
                    attempt: try row.int64("attempt").map { Int($0) }
                )
            }
        }
    }
}
