public import BerthCore
public import Foundation
import Logging

extension PostgresStore {
    /// Writes a new `queued` execution and its first event in one transaction, and notifies.
    public func createExecution(_ new: NewExecution) async throws(StoreError) -> Execution {
        let id = new.id ?? UUID()
        guard !new.owner.isEmpty, !new.image.isEmpty else {
            throw StoreError(code: .invalidArgument, message: "owner and image must not be empty", executionID: id, query: "create_execution")
        }
        // One statement (one round trip, its own transaction): the row, its first event and the
        // notification, then the row as selected, from the inserted values.
        return try await perform("create_execution", execution: id) {
            try await pool.withConnection { connection in
                let rows = try await connection.query(
                    """
                    WITH e AS (
                        INSERT INTO executions (id, name, owner, image, command, args, env, working_dir, target_host,
                                                labels, cpus, memory_bytes, timeout_seconds, priority, state, state_reason,
                                                max_attempts, retry_on_exit_codes, retry_backoff_seconds, secret_env, secret_env_names, config, keep, webhook_url)
                        VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7::jsonb, $8, $9, $10::jsonb, $11, $12, $13, $14,
                                'queued', 'submitted', $15, $16::jsonb, $17, $18::bytea, $19::jsonb, $20::jsonb, $21, $22)
                        RETURNING *
                    ), event AS (
                        INSERT INTO execution_events (execution_id, from_state, to_state, reason)
                        SELECT id, NULL, 'queued', 'submitted' FROM e
                    ), notified AS (
                        SELECT pg_notify($23, id::text) FROM e
                    )
                    SELECT \(ExecutionRow.columns)
                    FROM e LEFT JOIN attempts a ON false CROSS JOIN notified
                    """,
                    [
                        PostgresBind(id), new.name.map { PostgresBind($0) }, PostgresBind(new.owner), PostgresBind(new.image),
                        try new.command.map(SQLValues.json), try SQLValues.json(new.args), try SQLValues.json(new.env),
                        new.workingDir.map { PostgresBind($0) }, new.targetHost.map { PostgresBind($0) },
                        try SQLValues.json(new.labels), new.cpus.map { PostgresBind($0) },
                        new.memoryBytes.map { PostgresBind($0) }, new.timeoutSeconds.map { PostgresBind($0) },
                        PostgresBind(new.priority), PostgresBind(new.retry.maxAttempts),
                        try SQLValues.json(new.retry.onExitCodes.sorted()), PostgresBind(new.retry.backoffSeconds),
                        new.sealedSecretEnv.map { PostgresBind(bytes: $0) }, try SQLValues.json(new.secretEnvNames),
                        new.config.map { PostgresBind.text($0) }, PostgresBind(new.keep), new.webhookURL.map { PostgresBind($0) },
                        PostgresBind(StoreNotification.executionsChannel),
                    ]
                )
                guard let row = rows.first else {
                    throw StoreError(code: .internalError, message: "the insert returned no row", executionID: id, query: "create_execution")
                }
                return try ExecutionRow.decode(row)
            }
        }
    }

    /// The execution with this id, or `nil`.
    public func execution(id: UUID) async throws(StoreError) -> Execution? {
        try await perform("get_execution", execution: id) {
            try await pool.withConnection { connection in try await fetch(connection, id) }
        }
    }

    /// One page of executions, newest first, paged by `(created_at, id)`.
    public func listExecutions(_ query: ExecutionQuery) async throws(StoreError) -> ExecutionPage {
        guard (1...1000).contains(query.limit) else {
            throw StoreError(code: .invalidArgument, message: "limit must be 1…1000, not \(query.limit)", query: "list_executions")
        }
        return try await perform("list_executions") {
            var conditions = SQLConditions()
            if !query.states.isEmpty {
                let states = query.states.map(\.rawValue).sorted()
                conditions.add("e.state = ANY(\(conditions.bind(SQLValues.array(states)))::text[])")
            }
            if let host = query.host { conditions.add("COALESCE(e.host, e.target_host) = \(conditions.bind(.text(host)))") }
            if let owner = query.owner { conditions.add("e.owner = \(conditions.bind(.text(owner)))") }
            if let name = query.name { conditions.add("e.name = \(conditions.bind(.text(name)))") }
            if !query.labels.isEmpty {
                conditions.add("e.labels @> \(conditions.bind(try SQLValues.json(query.labels)))::jsonb")
            }
            if let after = query.after {
                let micros = conditions.bind(PostgresBind(after.createdAtMicros))
                let id = conditions.bind(PostgresBind(after.id))
                conditions.add("(e.created_at, e.id) < (berth_ts(\(micros)::bigint), \(id)::uuid)")
            }
            let limit = conditions.bind(PostgresBind(query.limit + 1))
            let sql = "\(ExecutionRow.selectFrom) \(conditions.whereClause) ORDER BY e.created_at DESC, e.id DESC LIMIT \(limit)"
            let rows = try await pool.withConnection { connection in try await connection.query(sql, conditions.parameters) }
            let page = rows.prefix(query.limit)
            let executions = try page.map(ExecutionRow.decode)
            let next = rows.count > query.limit ? try page.last.map(ExecutionRow.cursor) : nil
            return ExecutionPage(executions: executions, next: next)
        }
    }

    /// One conditional `UPDATE … WHERE id = $1 AND state = $2` plus one event row, in one statement.
    public func transition(
        _ id: UUID, from: ExecutionState, to: ExecutionState, reason: String, changes: TransitionChanges
    ) async throws(StoreError) -> TransitionOutcome {
        guard from.canTransition(to: to) else {
            throw StoreError(
                code: .invalidTransition,
                message: from.isTerminal ? "\(from.rawValue) is terminal and never changes" : "\(from.rawValue) cannot change to \(to.rawValue)",
                executionID: id, query: "transition"
            )
        }
        // One statement (one round trip, its own transaction): the conditional change, its event
        // (a retry's belongs to the attempt that ended: the row counts one less when that attempt
        // never started), the webhook's outbox row when it ends (committed with the end it
        // reports), the notification, and the row as it now is.
        let outcome = try await perform("transition", execution: id) { () async throws -> TransitionOutcome in
            try await pool.withConnection { connection in
                let updated = try await connection.query(
                    """
                    WITH e AS (
                        UPDATE executions SET
                            state = $3, state_reason = $4, updated_at = now(),
                            host = CASE WHEN $3 = 'queued' THEN NULL ELSE COALESCE($5, host) END,
                            exit_code = CASE WHEN $3 = 'queued' THEN NULL ELSE COALESCE($6::integer, exit_code) END,
                            error_code = CASE WHEN $3 = 'queued' THEN NULL ELSE COALESCE($7, error_code) END,
                            error_message = CASE WHEN $3 = 'queued' THEN NULL ELSE COALESCE($8, error_message) END,
                            attempts = CASE WHEN $13::boolean THEN GREATEST(attempts - 1, 0)
                                            ELSE GREATEST(attempts, COALESCE($9::integer, attempts)) END,
                            started_at = COALESCE(started_at, berth_ts($10::bigint), CASE WHEN $3 = 'running' THEN now() END),
                            finished_at = COALESCE(finished_at, berth_ts($11::bigint), CASE WHEN $12::boolean THEN now() END),
                            not_before = CASE WHEN $3 = 'queued' THEN berth_ts($14::bigint) END
                        WHERE id = $1 AND state = $2
                        RETURNING *
                    ), event AS (
                        INSERT INTO execution_events (execution_id, from_state, to_state, reason, attempt)
                        SELECT id, $2, $3, $4, COALESCE($9::integer, NULLIF(CASE WHEN $13::boolean THEN attempts + 1 ELSE attempts END, 0))
                        FROM e
                    ), webhook AS (
                        INSERT INTO webhook_deliveries (execution_id, url)
                        SELECT id, webhook_url FROM e WHERE $12::boolean AND webhook_url IS NOT NULL
                    ), notified AS (
                        SELECT pg_notify($15, id::text) FROM e
                    )
                    SELECT \(ExecutionRow.columns)
                    FROM e LEFT JOIN attempts a ON a.execution_id = e.id AND a.number = e.attempts CROSS JOIN notified
                    """,
                    [
                        PostgresBind(id), PostgresBind(from.rawValue), PostgresBind(to.rawValue), PostgresBind(reason),
                        changes.host.map { PostgresBind($0) }, changes.exitCode.map { PostgresBind($0) },
                        changes.error.map { PostgresBind($0.code) }, changes.error.map { PostgresBind($0.message) },
                        changes.attempt.map { PostgresBind($0) },
                        changes.startedAt.map { PostgresBind(micros: $0) }, changes.finishedAt.map { PostgresBind(micros: $0) },
                        PostgresBind(to.isTerminal), PostgresBind(changes.attemptNeverStarted && to == .queued),
                        changes.notBefore.map { PostgresBind(micros: $0) },
                        PostgresBind(StoreNotification.executionsChannel),
                    ]
                )
                guard let row = updated.first else {
                    let current = try await connection.query("SELECT state FROM executions WHERE id = $1", [PostgresBind(id)])
                    return .lost(current: try current.first.flatMap { try ExecutionState(rawValue: $0.string("state")) })
                }
                return .won(try ExecutionRow.decode(row))
            }
        }
        if case .won = outcome {
            listener.announce(StoreNotification(channel: StoreNotification.executionChangedHereChannel, payload: id.uuidString.lowercased()))
        }
        logger.debug("transition", metadata: [
            "execution": "\(id.uuidString.lowercased())", "from": "\(from.rawValue)", "to": "\(to.rawValue)",
            "won": "\(outcome.didWin)",
        ])
        return outcome
    }

    /// Reads the head of the queue (ids and targets only), lets `placement` choose, and schedules
    /// the placed executions in one statement whose `UPDATE` is conditional on `queued`.
    ///
    /// Nothing is locked while `placement` runs: a candidate that changed meanwhile (cancelled,
    /// or taken by another claimer) fails the condition and is simply not returned, so two
    /// claimers never get the same execution. Reading only two columns of the candidates, and
    /// writing only the placed rows, keeps a pass cheap when the queue is long and the hosts
    /// are full (before, every pass locked and decoded up to `limit` whole rows).
    public func claim(limit: Int, reason: String, placement: @escaping Placement) async throws(StoreError) -> [Execution] {
        guard limit > 0 else { return [] }
        let claimed: [Execution] = try await perform("claim") {
            try await pool.withConnection { connection in
                let candidates = try await connection.query(
                    """
                    SELECT id, target_host FROM executions
                    WHERE state = 'queued' AND (not_before IS NULL OR not_before <= now())
                    ORDER BY priority DESC, created_at, id
                    LIMIT $1
                    """,
                    [PostgresBind(limit)]
                ).map { row in
                    PlacementPlan.Candidate(id: try ExecutionRow.required(row.uuid("id"), "id"), targetHost: try row.text("target_host"))
                }
                guard !candidates.isEmpty else { return [] }
                let placed = placement(candidates)
                let chosen = candidates.filter { placed[$0.id] != nil }
                guard !chosen.isEmpty else { return [] }
                let ids = chosen.map { $0.id.uuidString.lowercased() }
                let hosts = chosen.map { placed[$0.id]! }
                return try await connection.query(
                    """
                    WITH placed AS (
                        SELECT * FROM unnest($1::uuid[], $2::text[]) AS p(id, host)
                    ), e AS (
                        UPDATE executions x
                        SET state = 'scheduled', host = placed.host, attempts = x.attempts + 1, not_before = NULL,
                            state_reason = replace($3, '{host}', placed.host), updated_at = now()
                        FROM placed
                        WHERE x.id = placed.id AND x.state = 'queued'
                        RETURNING x.*
                    ), event AS (
                        INSERT INTO execution_events (execution_id, from_state, to_state, reason, attempt)
                        SELECT id, 'queued', 'scheduled', state_reason, attempts FROM e
                    ), notified AS (
                        SELECT id, pg_notify($4, id::text) FROM e
                    )
                    SELECT \(ExecutionRow.columns)
                    FROM e JOIN notified n ON n.id = e.id
                    LEFT JOIN attempts a ON a.execution_id = e.id AND a.number = e.attempts
                    ORDER BY e.priority DESC, e.created_at, e.id
                    """,
                    [SQLValues.array(ids), SQLValues.array(hosts), PostgresBind(reason), PostgresBind(StoreNotification.executionsChannel)]
                ).map(ExecutionRow.decode)
            }
        }
        for execution in claimed {
            listener.announce(StoreNotification(channel: StoreNotification.executionChangedHereChannel, payload: execution.id.uuidString.lowercased()))
        }
        return claimed
    }

    func fetch(_ connection: PostgresConnection, _ id: UUID) async throws -> Execution? {
        let rows = try await connection.query("\(ExecutionRow.selectFrom) WHERE e.id = $1", [PostgresBind(id)])
        return try rows.first.map(ExecutionRow.decode)
    }

    func notify(_ connection: PostgresConnection, _ channel: String, _ id: UUID) async throws {
        try await connection.query("SELECT pg_notify($1, $2)", [PostgresBind(channel), PostgresBind(id)])
    }
}
