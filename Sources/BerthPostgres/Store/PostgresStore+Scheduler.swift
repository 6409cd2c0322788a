public import BerthCore
public import Foundation

extension PostgresStore {
    /// Executions in `scheduled`, `starting` or `running` per host but those in `excluded`
    /// (uses the state index).
    public func activeExecutionCounts(excluding excluded: Set<UUID>) async throws(StoreError) -> [String: Int] {
        try await perform("active_execution_counts") {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    SELECT host, count(*)::bigint AS n FROM executions
                    WHERE state IN ('scheduled', 'starting', 'running') AND host IS NOT NULL
                      AND NOT (id = ANY($1::uuid[]))
                    GROUP BY host
                    """,
                    [SQLValues.array(excluded.map { $0.uuidString.lowercased() })]
                )
            }
            var counts: [String: Int] = [:]
            for row in rows { counts[try row.string("host")] = Int(try row.requiredInt64("n")) }
            return counts
        }
    }

    /// One `GROUP BY` over the whole table (a sequential scan: tens of milliseconds at
    /// 100,000 executions, once per scrape).
    public func executionCounts() async throws(StoreError) -> [ExecutionCount] {
        try await perform("execution_counts") {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    SELECT state, COALESCE(host, target_host, '') AS host, count(*)::bigint AS n
                    FROM executions GROUP BY 1, 2
                    """
                )
            }
            return try rows.compactMap { row in
                guard let state = ExecutionState(rawValue: try row.string("state")) else { return nil }
                return ExecutionCount(state: state, host: try row.string("host"), count: Int(try row.requiredInt64("n")))
            }
        }
    }

    /// One `UPDATE … WHERE state = 'queued' AND state_reason IS DISTINCT FROM …`: no event, no NOTIFY.
    public func updateStateReasons(_ reasons: [UUID: String], whileIn state: ExecutionState) async throws(StoreError) {
        guard !reasons.isEmpty else { return }
        let entries = reasons.sorted { $0.key.uuidString < $1.key.uuidString }
        try await perform("update_state_reasons") {
            try await pool.withConnection { connection in
                try await connection.query(
                    """
                    UPDATE executions e SET state_reason = r.reason
                    FROM unnest($1::uuid[], $2::text[]) AS r(id, reason)
                    WHERE e.id = r.id AND e.state = $3 AND e.state_reason IS DISTINCT FROM r.reason
                    """,
                    [
                        SQLValues.array(entries.map { $0.key.uuidString.lowercased() }), SQLValues.array(entries.map(\.value)),
                        .text(state.rawValue),
                    ]
                )
            }
        }
    }

    /// The smallest future `not_before` of a queued execution (uses the retry index).
    public func nextRetryAt() async throws(StoreError) -> Date? {
        try await perform("next_retry_at") {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    SELECT berth_us(min(not_before)) AS at FROM executions
                    WHERE state = 'queued' AND not_before IS NOT NULL AND not_before > now()
                    """
                )
            }
            return try rows.first?.date(micros: "at")
        }
    }

    /// Running executions with a timeout, earliest deadline first.
    public func runningWithTimeout(limit: Int) async throws(StoreError) -> [Execution] {
        guard limit > 0 else { return [] }
        return try await perform("running_with_timeout") {
            try await pool.withConnection { connection in
                try await connection.query(
                    """
                    \(ExecutionRow.selectFrom)
                    WHERE e.state = 'running' AND e.timeout_seconds IS NOT NULL
                    ORDER BY COALESCE(e.started_at, e.updated_at) + make_interval(secs => e.timeout_seconds), e.id
                    LIMIT $1
                    """,
                    [PostgresBind(limit)]
                ).map(ExecutionRow.decode)
            }
        }
    }

    /// Inserts the fact into `deployment` unless a row exists, and returns the row's value.
    public func deploymentFact(_ fact: DeploymentFact, proposing proposed: String) async throws(StoreError) -> String {
        try await perform("deployment_fact") {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    WITH inserted AS (
                        INSERT INTO deployment (key, value) VALUES ($1, $2)
                        ON CONFLICT (key) DO NOTHING RETURNING value
                    )
                    SELECT value FROM inserted UNION ALL SELECT value FROM deployment WHERE key = $1
                    """,
                    [PostgresBind(fact.rawValue), PostgresBind(proposed)]
                )
            }
            return try rows.first?.string("value") ?? proposed
        }
    }

    /// A ``PostgresLeaderLock`` on its own connection to this Store's database.
    public func leaderLock(key: Int64) -> any LeaderLock {
        PostgresLeaderLock(configuration: pool.configuration, key: key, logger: logger)
    }
}
