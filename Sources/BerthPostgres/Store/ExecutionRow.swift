import BerthCore
import Foundation

/// How an ``Execution`` is selected and decoded: the columns, with the current attempt joined.
enum ExecutionRow {
    /// The columns ``decode(_:)`` reads, from `executions e` and its current attempt `a`.
    static let columns = """
        e.id, e.name, e.owner, e.image, e.command::text AS command, e.args::text AS args,
               e.env::text AS env, e.working_dir, e.target_host, e.host, e.labels::text AS labels,
               e.cpus, e.memory_bytes, e.timeout_seconds, e.priority, e.state, e.state_reason,
               e.exit_code, e.error_code, e.error_message, e.attempts,
               e.max_attempts, e.retry_on_exit_codes::text AS retry_on_exit_codes, e.retry_backoff_seconds,
               berth_us(e.not_before) AS not_before_us, e.secret_env, e.secret_env_names::text AS secret_env_names,
               e.config::text AS config, e.keep, berth_us(e.outputs_expired_at) AS outputs_expired_us, e.webhook_url,
               e.template_name, e.template_version, e.host_selector::text AS host_selector,
               e.schedule_id, e.schedule_name, berth_us(e.scheduled_for) AS scheduled_for_us,
               berth_us(e.created_at) AS created_us, berth_us(e.updated_at) AS updated_us,
               berth_us(e.started_at) AS started_us, berth_us(e.finished_at) AS finished_us,
               a.number AS attempt_number, a.host AS attempt_host, a.runtime_handle AS attempt_handle,
               berth_us(a.started_at) AS attempt_started_us, berth_us(a.finished_at) AS attempt_finished_us
        """

    /// `SELECT` list and `FROM` for executions (`e`) with their current attempt (`a`).
    static let selectFrom = """
        SELECT \(columns)
        FROM executions e
        LEFT JOIN attempts a ON a.execution_id = e.id AND a.number = e.attempts
        """

    /// Decodes one row selected with ``selectFrom``.
    static func decode(_ row: PostgresRow) throws -> Execution {
        let id = try required(row.uuid("id"), "id")
        let stateText = try row.string("state")
        guard let state = ExecutionState(rawValue: stateText) else {
            throw PostgresError(code: .decodingFailed, message: "unknown execution state \"\(stateText)\"")
        }
        var failure: ExecutionFailure?
        if let code = try row.text("error_code") {
            failure = ExecutionFailure(code: code, message: try row.text("error_message") ?? "")
        }
        var attempt: Attempt?
        if let number = try row.int64("attempt_number") {
            attempt = Attempt(
                executionID: id, number: Int(number), host: try row.string("attempt_host"),
                runtimeHandle: try row.string("attempt_handle"),
                startedAt: try required(row.date(micros: "attempt_started_us"), "attempt_started_us"),
                finishedAt: try row.date(micros: "attempt_finished_us")
            )
        }
        var execution = Execution(
            id: id,
            name: try row.text("name"),
            owner: try row.string("owner"),
            image: try row.string("image"),
            command: try row.json([String].self, "command"),
            args: try row.json([String].self, "args") ?? [],
            env: try row.json([String: String].self, "env") ?? [:],
            workingDir: try row.text("working_dir"),
            targetHost: try row.text("target_host"),
            host: try row.text("host"),
            labels: try row.json([String: String].self, "labels") ?? [:],
            cpus: try row.double("cpus"),
            memoryBytes: try row.int64("memory_bytes"),
            timeoutSeconds: try row.int64("timeout_seconds").map { Int($0) },
            priority: Int(try row.requiredInt64("priority")),
            retry: RetryPolicy(
                maxAttempts: Int(try row.requiredInt64("max_attempts")),
                onExitCodes: Set(try row.json([Int32].self, "retry_on_exit_codes") ?? []),
                backoffSeconds: try required(row.double("retry_backoff_seconds"), "retry_backoff_seconds")),
            notBefore: try row.date(micros: "not_before_us"),
            state: state,
            stateReason: try row.text("state_reason"),
            exitCode: try row.int64("exit_code").map { Int32(truncatingIfNeeded: $0) },
            error: failure,
            attempts: Int(try row.requiredInt64("attempts")),
            currentAttempt: attempt,
            createdAt: try required(row.date(micros: "created_us"), "created_us"),
            updatedAt: try required(row.date(micros: "updated_us"), "updated_us"),
            startedAt: try row.date(micros: "started_us"),
            finishedAt: try row.date(micros: "finished_us")
        )
        execution.sealedSecretEnv = try row.bytes("secret_env")
        execution.secretEnvNames = try row.json([String].self, "secret_env_names") ?? []
        execution.config = try row.text("config")
        execution.keep = try row.string("keep") == "t"
        execution.webhookURL = try row.text("webhook_url")
        execution.hostSelector = try row.json([String: String].self, "host_selector") ?? [:]
        if let name = try row.text("template_name"), let version = try row.int64("template_version") {
            execution.template = TemplateReference(name: name, version: Int(version))
        }
        if let id = try row.uuid("schedule_id"), let name = try row.text("schedule_name"),
           let dueAt = try row.date(micros: "scheduled_for_us") {
            execution.schedule = ScheduleOrigin(id: id, name: name, dueAt: dueAt)
        }
        execution.outputsExpiredAt = try row.date(micros: "outputs_expired_us")
        return execution
    }

    /// The cursor of a row selected with ``selectFrom``.
    static func cursor(_ row: PostgresRow) throws -> ExecutionCursor {
        ExecutionCursor(
            createdAtMicros: try row.requiredInt64("created_us"),
            id: try required(row.uuid("id"), "id")
        )
    }

    static func required<T>(_ value: T?, _ column: String) throws -> T {
        guard let value else { throw PostgresError(code: .decodingFailed, message: "column \"\(column)\" is NULL") }
        return value
    }
}
