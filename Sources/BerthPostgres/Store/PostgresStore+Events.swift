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
            return try rows.map(Self.event)
        }
    }

    /// Events across executions, in `seq` order.
    public func events(_ query: EventQuery) async throws(StoreError) -> [ExecutionEvent] {
        try await perform("stream_events", execution: query.executionID) {
            var conditions = SQLConditions()
            conditions.add("v.seq > \(conditions.bind(PostgresBind(query.afterSeq)))")
            if let id = query.executionID { conditions.add("v.execution_id = \(conditions.bind(PostgresBind(id)))") }
            if let host = query.host { conditions.add("COALESCE(e.host, e.target_host) = \(conditions.bind(PostgresBind(host)))") }
            if let owner = query.owner { conditions.add("e.owner = \(conditions.bind(PostgresBind(owner)))") }
            let limit = conditions.bind(PostgresBind(min(max(1, query.limit), 10_000)))
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    SELECT v.seq, v.execution_id, v.from_state, v.to_state, v.reason, v.attempt, berth_us(v.at) AS at_us
                    FROM execution_events v JOIN executions e ON e.id = v.execution_id
                    \(conditions.whereClause) ORDER BY v.seq LIMIT \(limit)
                    """,
                    conditions.parameters)
            }
            return try rows.map(Self.event)
        }
    }

    /// The newest event's `seq`.
    public func latestEventSeq() async throws(StoreError) -> Int64 {
        try await perform("latest_event_seq") {
            let rows = try await pool.withConnection { connection in
                try await connection.query("SELECT COALESCE(max(seq), 0) AS seq FROM execution_events", [])
            }
            return try rows.first?.requiredInt64("seq") ?? 0
        }
    }

    /// An event from a row with its columns.
    private static func event(_ row: PostgresRow) throws -> ExecutionEvent {
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
