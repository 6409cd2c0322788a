import BerthCore
import BerthPluginKit
import Foundation

/// How domain values look on the wire: snake_case JSON, RFC 3339 times in UTC.
enum Wire {
    /// RFC 3339 in UTC, at the database's microsecond precision.
    static func time(_ date: Date) -> JSONValue {
        .string(timestamp(date).rfc3339)
    }

    /// The nanosecond ``Timestamp`` of a `Date`, rounded to microseconds (what PostgreSQL keeps).
    static func timestamp(_ date: Date) -> Timestamp {
        Timestamp(nanosecondsSinceEpoch: Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) * 1000)
    }

    /// The `Date` of a ``Timestamp``.
    static func date(_ timestamp: Timestamp) -> Date {
        Date(timeIntervalSince1970: Double(timestamp.nanosecondsSinceEpoch) / 1e9)
    }

    static func optional<T>(_ value: T?, _ transform: (T) -> JSONValue) -> JSONValue {
        value.map(transform) ?? .null
    }

    /// Ids are lowercase UUIDs.
    static func id(_ id: UUID) -> String { id.uuidString.lowercased() }

    static let bytesPerMiB: Int64 = 1 << 20

    /// A progress or result report: the reported object under the kind's name.
    static func report(_ report: ExecutionReport) -> JSONValue {
        .object([
            "execution_id": .string(id(report.executionID)),
            "attempt": .number(Double(report.attempt)),
            "source": .string(report.source.rawValue),
            "at": time(report.at),
            report.kind.rawValue: .object(report.body),
        ])
    }

    /// An execution as the API shows it.
    static func execution(_ execution: Execution) -> JSONValue {
        let object: [String: JSONValue] = [
            "id": .string(id(execution.id)),
            "name": optional(execution.name) { .string($0) },
            "owner": .string(execution.owner),
            "image": .string(execution.image),
            "command": optional(execution.command) { JSONValue($0) },
            "args": JSONValue(execution.args),
            "env": JSONValue(execution.env),
            "working_dir": optional(execution.workingDir) { .string($0) },
            "target_host": optional(execution.targetHost) { .string($0) },
            "host_selector": JSONValue(execution.hostSelector),
            "host": optional(execution.host) { .string($0) },
            "state": .string(execution.state.rawValue),
            "state_reason": optional(execution.stateReason) { .string($0) },
            "exit_code": optional(execution.exitCode) { .number(Double($0)) },
            "error": optional(execution.error) { ["code": .string($0.code), "message": .string($0.message)] },
            "attempts": .number(Double(execution.attempts)),
            "priority": .number(Double(execution.priority)),
            "labels": JSONValue(execution.labels),
            "cpus": optional(execution.cpus) { .number($0) },
            "memory_mb": optional(execution.memoryBytes) { .number(Double(($0 + bytesPerMiB - 1) / bytesPerMiB)) },
            "timeout_seconds": optional(execution.timeoutSeconds) { .number(Double($0)) },
            "max_attempts": .number(Double(execution.retry.maxAttempts)),
            "retry_on_exit_codes": .array(execution.retry.onExitCodes.sorted().map { .number(Double($0)) }),
            "retry_backoff_seconds": .number(execution.retry.backoffSeconds),
            "not_before": optional(execution.notBefore, time),
            "secret_env": JSONValue(execution.secretEnvNames),
            "config": optional(execution.config.flatMap { try? JSONValue(parsing: $0) }) { $0 },
            "keep": .bool(execution.keep),
            "webhook_url": optional(execution.webhookURL) { .string($0) },
            "template": optional(execution.template) { ["name": .string($0.name), "version": .number(Double($0.version))] },
            "schedule": optional(execution.schedule) { ["id": .string(id($0.id)), "name": .string($0.name), "due_at": time($0.dueAt)] },
            "outputs_expired_at": optional(execution.outputsExpiredAt, time),
            "created_at": time(execution.createdAt),
            "updated_at": time(execution.updatedAt),
            "started_at": optional(execution.startedAt, time),
            "finished_at": optional(execution.finishedAt, time),
        ]
        return .object(object)
    }

    /// An API token's record (never its secret or hash).
    static func token(_ token: APIToken) -> JSONValue {
        [
            "id": .string(id(token.id)),
            "name": .string(token.name),
            "owner": .string(token.owner),
            "role": .string(token.role.rawValue),
            "created_at": time(token.createdAt),
            "last_used_at": optional(token.lastUsedAt, time),
            "expires_at": optional(token.expiresAt, time),
            "revoked_at": optional(token.revokedAt, time),
        ]
    }

    /// A template version.
    static func template(_ template: ExecutionTemplate) -> JSONValue {
        [
            "name": .string(template.name),
            "version": .number(Double(template.version)),
            "ref": .string("\(template.name)@\(template.version)"),
            "description": optional(template.description) { .string($0) },
            "spec": .object(template.spec),
            "parameters_schema": template.parametersSchema ?? .null,
            "created_by": .string(template.createdBy),
            "created_at": time(template.createdAt),
            "deprecated_at": optional(template.deprecatedAt, time),
            "deprecation_reason": optional(template.deprecationReason) { .string($0) },
        ]
    }

    /// A schedule, with its latest run records when given.
    static func schedule(_ schedule: Schedule, recentRuns: [ScheduleRun]? = nil) -> JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(id(schedule.id)),
            "name": .string(schedule.name),
            "cron": .string(schedule.cron),
            "time_zone": .string(schedule.timeZone),
            "template": .string(schedule.template),
            "parameters": schedule.parameters,
            "run": .object(schedule.run),
            "concurrency_policy": .string(schedule.concurrencyPolicy.rawValue),
            "catch_up": .string(schedule.catchUp.rawValue),
            "paused": .bool(schedule.paused),
            "owner": .string(schedule.owner),
            "created_at": time(schedule.createdAt),
            "next_due_at": optional(schedule.nextDueAt, time),
            "last_due_at": optional(schedule.lastDueAt, time),
        ]
        if let recentRuns { object["recent_runs"] = .array(recentRuns.map(scheduleRun)) }
        return .object(object)
    }

    /// What became of one due time of a schedule.
    static func scheduleRun(_ run: ScheduleRun) -> JSONValue {
        [
            "due_at": time(run.dueAt),
            "outcome": .string(run.outcome.rawValue),
            "execution_id": optional(run.executionID) { .string(id($0)) },
            "detail": optional(run.detail) { .string($0) },
            "recorded_at": time(run.recordedAt),
        ]
    }

    /// A state change.
    static func event(_ event: ExecutionEvent) -> JSONValue {
        [
            "seq": .number(Double(event.seq)),
            "execution_id": .string(id(event.executionID)),
            "from_state": optional(event.fromState) { .string($0.rawValue) },
            "to_state": .string(event.toState.rawValue),
            "reason": .string(event.reason),
            "attempt": optional(event.attempt) { .number(Double($0)) },
            "at": time(event.at),
        ]
    }

    /// One log chunk as an NDJSON line's object.
    static func logChunk(_ chunk: StoredLogChunk) -> JSONValue {
        [
            "stream": .string(chunk.stream.rawValue),
            "data": .string(String(decoding: chunk.bytes, as: UTF8.self)),
            "timestamp": time(chunk.timestamp),
            "seq": .number(Double(chunk.seq)),
            "attempt": .number(Double(chunk.attempt)),
        ]
    }
}
