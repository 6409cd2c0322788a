public import BerthCore
public import Foundation
import Logging

extension PostgresStore {
    /// Writes a new `queued` execution and its first event, and notifies: in one statement
    /// with the submissions other tasks made meanwhile (``WriteBatcher``).
    public func createExecution(_ new: NewExecution) async throws(StoreError) -> Execution {
        let id = new.id ?? UUID()
        guard !new.owner.isEmpty, !new.image.isEmpty else {
            throw StoreError(code: .invalidArgument, message: "owner and image must not be empty", executionID: id, query: "create_execution")
        }
        var new = new
        new.id = id
        return try await creations.submit(new).get()
    }

    /// Writes a batch of new executions in one statement (its own transaction): the rows (in
    /// the batch's order: each `created_at` a microsecond after the one before), their first
    /// events and notifications, then the rows as selected.
    static func writeCreations(_ batch: [NewExecution], pool: PostgresConnectionPool) async -> [Result<Execution, StoreError>] {
        await writeEach(batch, operation: "create_execution", execution: \.id, pool: pool, writeCreations(_:connection:))
    }

    private struct CreationRecord: Encodable {
        let index: Int
        let new: NewExecution

        enum CodingKeys: String, CodingKey {
            case index, id, name, owner, image, command, args, env, workingDir = "working_dir", targetHost = "target_host"
            case labels, cpus, memoryBytes = "memory_bytes", timeoutSeconds = "timeout_seconds", priority
            case maxAttempts = "max_attempts", retryOnExitCodes = "retry_on_exit_codes", retryBackoffSeconds = "retry_backoff_seconds"
            case secretEnv = "secret_env", secretEnvNames = "secret_env_names", config, keep, webhookURL = "webhook_url"
            case templateName = "template_name", templateVersion = "template_version", hostSelector = "host_selector"
            case scheduleID = "schedule_id", scheduleName = "schedule_name", scheduledFor = "scheduled_for"
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(new.id, forKey: .id)
            try container.encodeIfPresent(new.name, forKey: .name)
            try container.encode(new.owner, forKey: .owner)
            try container.encode(new.image, forKey: .image)
            try container.encodeIfPresent(new.command, forKey: .command)
            try container.encode(new.args, forKey: .args)
            try container.encode(new.env, forKey: .env)
            try container.encodeIfPresent(new.workingDir, forKey: .workingDir)
            try container.encodeIfPresent(new.targetHost, forKey: .targetHost)
            try container.encode(new.labels, forKey: .labels)
            try container.encodeIfPresent(new.cpus, forKey: .cpus)
            try container.encodeIfPresent(new.memoryBytes, forKey: .memoryBytes)
            try container.encodeIfPresent(new.timeoutSeconds, forKey: .timeoutSeconds)
            try container.encode(new.priority, forKey: .priority)
            try container.encode(new.retry.maxAttempts, forKey: .maxAttempts)
            try container.encode(new.retry.onExitCodes.sorted(), forKey: .retryOnExitCodes)
            try container.encode(new.retry.backoffSeconds, forKey: .retryBackoffSeconds)
            // bytea travels as base64 text (`decode(…, 'base64')`), the config as its JSON text.
            try container.encodeIfPresent(new.sealedSecretEnv.map { Data($0).base64EncodedString() }, forKey: .secretEnv)
            try container.encode(new.secretEnvNames, forKey: .secretEnvNames)
            try container.encodeIfPresent(new.config, forKey: .config)
            try container.encode(new.keep, forKey: .keep)
            try container.encodeIfPresent(new.webhookURL, forKey: .webhookURL)
            try container.encodeIfPresent(new.template?.name, forKey: .templateName)
            try container.encodeIfPresent(new.template?.version, forKey: .templateVersion)
            try container.encode(new.hostSelector, forKey: .hostSelector)
            try container.encodeIfPresent(new.schedule?.id, forKey: .scheduleID)
            try container.encodeIfPresent(new.schedule?.name, forKey: .scheduleName)
            try container.encodeIfPresent(new.schedule.map { PostgresTime.micros($0.dueAt) }, forKey: .scheduledFor)
        }
    }

    private static func writeCreations(_ batch: [NewExecution], connection: PostgresConnection) async throws -> [Execution] {
        let rows = try await connection.query(
            """
            WITH t AS (
                SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(
                    index integer, id uuid, name text, owner text, image text, command jsonb, args jsonb, env jsonb,
                    working_dir text, target_host text, labels jsonb, cpus double precision, memory_bytes bigint,
                    timeout_seconds integer, priority integer, max_attempts integer, retry_on_exit_codes jsonb,
                    retry_backoff_seconds double precision, secret_env text, secret_env_names jsonb, config text,
                    keep boolean, webhook_url text, template_name text, template_version integer, host_selector jsonb,
                    schedule_id uuid, schedule_name text, scheduled_for bigint)
            ), e AS (
                INSERT INTO executions (id, name, owner, image, command, args, env, working_dir, target_host,
                                        labels, cpus, memory_bytes, timeout_seconds, priority, state, state_reason,
                                        max_attempts, retry_on_exit_codes, retry_backoff_seconds, secret_env, secret_env_names,
                                        config, keep, webhook_url, template_name, template_version, host_selector,
                                        schedule_id, schedule_name, scheduled_for, created_at, updated_at)
                SELECT id, name, owner, image, command, args, env, working_dir, target_host,
                       labels, cpus, memory_bytes, timeout_seconds, priority, 'queued', 'submitted',
                       max_attempts, retry_on_exit_codes, retry_backoff_seconds, decode(secret_env, 'base64'), secret_env_names,
                       config::jsonb, keep, webhook_url, template_name, template_version, host_selector,
                       schedule_id, schedule_name, berth_ts(scheduled_for),
                       now() + index * interval '1 microsecond', now() + index * interval '1 microsecond'
                FROM t ORDER BY index
                RETURNING *
            ), event AS (
                INSERT INTO execution_events (execution_id, from_state, to_state, reason)
                SELECT id, NULL, 'queued', 'submitted' FROM e
            ), notified AS (
                SELECT id, pg_notify($2, id::text) FROM e
            )
            SELECT t.index AS batch_index, \(ExecutionRow.columns)
            FROM e JOIN t ON t.id = e.id JOIN notified n ON n.id = e.id LEFT JOIN attempts a ON false
            """,
            [try SQLValues.json(batch.enumerated().map { CreationRecord(index: $0, new: $1) }), PostgresBind(StoreNotification.executionsChannel)]
        )
        return try requireEach(try byBatchIndex(rows, count: batch.count, ExecutionRow.decode)) { index in
            "the insert returned no row for execution \(batch[index].id?.uuidString.lowercased() ?? "?")"
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

    /// Reads the head of the queue (ids and targets only), lets `placement` choose, and schedules
    /// the placed executions in one statement whose `UPDATE` is conditional on `queued`.
    ///
    /// Nothing is locked while `placement` runs: a candidate that changed meanwhile (cancelled,
    /// or taken by another claimer) fails the condition and is simply not returned, so two
    /// claimers never get the same execution. Reading only two columns of the candidates, and
    /// writing only the placed rows, keeps a pass cheap when the queue is long and the hosts
    /// are full (before, every pass locked and decoded up to `limit` whole rows). The events
    /// are inserted in queue order, so their `seq` is the placement order.
    public func claim(limit: Int, reason: String, placement: @escaping Placement) async throws(StoreError) -> [Execution] {
        guard limit > 0 else { return [] }
        let claimed: [Execution] = try await perform("claim") {
            try await pool.withConnection { connection in
                let candidates = try await connection.query(
                    """
                    SELECT id, target_host, host_selector::text AS host_selector FROM executions
                    WHERE state = 'queued' AND (not_before IS NULL OR not_before <= now())
                    ORDER BY priority DESC, created_at, id
                    LIMIT $1
                    """,
                    [PostgresBind(limit)]
                ).map { row in
                    PlacementPlan.Candidate(
                        id: try ExecutionRow.required(row.uuid("id"), "id"), targetHost: try row.text("target_host"),
                        hostSelector: try row.json([String: String].self, "host_selector") ?? [:])
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
                        ORDER BY priority DESC, created_at, id
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
