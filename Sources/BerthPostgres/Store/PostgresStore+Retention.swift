public import BerthCore
public import Foundation

extension PostgresStore {
    /// Removes the logs and collected outputs of executions that finished before `cutoff`.
    public func expireOutputs(finishedBefore cutoff: Date, limit: Int) async throws(StoreError) -> [UUID] {
        try await perform("expire_outputs") {
            try await pool.withTransaction { connection in
                let rows = try await connection.query(
                    """
                    SELECT id FROM executions
                    WHERE outputs_expired_at IS NULL AND finished_at < berth_ts($1::bigint)
                      AND state IN ('succeeded', 'failed', 'cancelled', 'timed_out', 'lost')
                    ORDER BY finished_at LIMIT $2::integer FOR UPDATE SKIP LOCKED
                    """,
                    [PostgresBind(micros: cutoff), PostgresBind(max(1, limit))])
                let ids = try rows.map { try ExecutionRow.required($0.uuid("id"), "id") }
                guard !ids.isEmpty else { return [] }
                let list = SQLValues.array(ids.map { $0.uuidString.lowercased() })
                try await connection.query("DELETE FROM log_chunks WHERE execution_id = ANY($1::uuid[])", [list])
                try await connection.query("DELETE FROM artifact_sets WHERE execution_id = ANY($1::uuid[])", [list])
                try await connection.query(
                    "UPDATE executions SET outputs_expired_at = now() WHERE id = ANY($1::uuid[])", [list])
                return ids
            }
        }
    }
}
