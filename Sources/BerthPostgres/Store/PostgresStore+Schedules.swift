public import BerthCore
import BerthPluginKit
public import Foundation

extension PostgresStore {
    private static let scheduleColumns = """
        id, name, cron, time_zone, template, parameters, run, concurrency_policy, catch_up, paused, owner,
        berth_us(created_at) AS created_us, berth_us(next_due_at) AS next_due_us, berth_us(last_due_at) AS last_due_us
        """

    private static let runColumns = """
        schedule_id, berth_us(due_at) AS due_us, outcome, execution_id, detail, berth_us(recorded_at) AS recorded_us
        """

    /// Inserts the schedule; a taken name is a conflict (the unique constraint).
    public func createSchedule(_ schedule: Schedule) async throws(StoreError) -> Schedule {
        try await perform("create_schedule") {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    INSERT INTO schedules (id, name, cron, time_zone, template, parameters, run, concurrency_policy, catch_up,
                                           paused, owner, next_due_at)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, berth_ts($12::bigint))
                    RETURNING \(Self.scheduleColumns)
                    """,
                    [
                        PostgresBind(schedule.id), PostgresBind(schedule.name), PostgresBind(schedule.cron), PostgresBind(schedule.timeZone),
                        PostgresBind(schedule.template), PostgresBind(schedule.parameters.jsonText),
                        PostgresBind(JSONValue.object(schedule.run).jsonText), PostgresBind(schedule.concurrencyPolicy.rawValue),
                        PostgresBind(schedule.catchUp.rawValue), PostgresBind(schedule.paused), PostgresBind(schedule.owner),
                        schedule.nextDueAt.map { PostgresBind(micros: $0) },
                    ])
            }
            guard let row = rows.first else { throw PostgresError(code: .decodingFailed, message: "the insert returned no schedule") }
            return try Self.decodeSchedule(row)
        }
    }

    /// The schedule with this name.
    public func schedule(name: String) async throws(StoreError) -> Schedule? {
        try await perform("get_schedule") {
            let rows = try await pool.withConnection { connection in
                try await connection.query("SELECT \(Self.scheduleColumns) FROM schedules WHERE name = $1", [PostgresBind(name)])
            }
            return try rows.first.map(Self.decodeSchedule)
        }
    }

    /// Every schedule, by name.
    public func schedules() async throws(StoreError) -> [Schedule] {
        try await perform("list_schedules") {
            let rows = try await pool.withConnection { connection in
                try await connection.query("SELECT \(Self.scheduleColumns) FROM schedules ORDER BY name")
            }
            return try rows.map(Self.decodeSchedule)
        }
    }

    /// The unpaused schedules due at `now`, most overdue first.
    public func dueSchedules(at now: Date, limit: Int) async throws(StoreError) -> [Schedule] {
        try await perform("due_schedules") {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    SELECT \(Self.scheduleColumns) FROM schedules
                    WHERE NOT paused AND next_due_at IS NOT NULL AND next_due_at <= berth_ts($1::bigint)
                    ORDER BY next_due_at, name LIMIT $2
                    """,
                    [PostgresBind(micros: now), PostgresBind(limit)])
            }
            return try rows.map(Self.decodeSchedule)
        }
    }

    /// Sets `paused` and `next_due_at`.
    public func setSchedulePaused(name: String, paused: Bool, nextDueAt: Date?) async throws(StoreError) -> Schedule? {
        try await perform("pause_schedule") {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    "UPDATE schedules SET paused = $2, next_due_at = berth_ts($3::bigint) WHERE name = $1 RETURNING \(Self.scheduleColumns)",
                    [PostgresBind(name), PostgresBind(paused), nextDueAt.map { PostgresBind(micros: $0) }])
            }
            return try rows.first.map(Self.decodeSchedule)
        }
    }

    /// Deletes the schedule; its run records go with it (`ON DELETE CASCADE`).
    public func deleteSchedule(name: String) async throws(StoreError) -> Bool {
        try await perform("delete_schedule") {
            let rows = try await pool.withConnection { connection in
                try await connection.query("DELETE FROM schedules WHERE name = $1 RETURNING id", [PostgresBind(name)])
            }
            return !rows.isEmpty
        }
    }

    /// Inserts the record unless one exists for the due time, then returns the one that holds.
    public func recordScheduleRun(_ run: ScheduleRun) async throws(StoreError) -> ScheduleRun {
        try await perform("record_schedule_run") {
            try await pool.withConnection { connection in
                let key: [PostgresBind?] = [PostgresBind(run.scheduleID), PostgresBind(micros: run.dueAt)]
                let inserted = try await connection.query(
                    """
                    INSERT INTO schedule_runs (schedule_id, due_at, outcome, execution_id, detail)
                    VALUES ($1, berth_ts($2::bigint), $3, $4, $5)
                    ON CONFLICT (schedule_id, due_at) DO NOTHING
                    RETURNING \(Self.runColumns)
                    """,
                    key + [PostgresBind(run.outcome.rawValue), run.executionID.map { PostgresBind($0) }, run.detail.map { PostgresBind($0) }])
                if let row = inserted.first { return try Self.decodeRun(row) }
                // A record was there, or another server's insert committed while this one
                // waited: a new statement (a new snapshot under READ COMMITTED) sees it.
                let existing = try await connection.query(
                    "SELECT \(Self.runColumns) FROM schedule_runs WHERE schedule_id = $1 AND due_at = berth_ts($2::bigint)", key)
                guard let row = existing.first else {
                    throw PostgresError(code: .decodingFailed, message: "no run record for schedule \(run.scheduleID.uuidString.lowercased())")
                }
                return try Self.decodeRun(row)
            }
        }
    }

    /// Compare-and-set of `next_due_at`.
    public func advanceSchedule(id: UUID, from: Date, to: Date?, handled: Date) async throws(StoreError) -> Bool {
        try await perform("advance_schedule") {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    UPDATE schedules SET next_due_at = berth_ts($3::bigint), last_due_at = berth_ts($4::bigint)
                    WHERE id = $1 AND next_due_at = berth_ts($2::bigint) RETURNING id
                    """,
                    [PostgresBind(id), PostgresBind(micros: from), to.map { PostgresBind(micros: $0) }, PostgresBind(micros: handled)])
            }
            return !rows.isEmpty
        }
    }

    /// The newest run records first.
    public func scheduleRuns(scheduleID: UUID, limit: Int) async throws(StoreError) -> [ScheduleRun] {
        try await perform("list_schedule_runs") {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    "SELECT \(Self.runColumns) FROM schedule_runs WHERE schedule_id = $1 ORDER BY due_at DESC LIMIT $2",
                    [PostgresBind(scheduleID), PostgresBind(limit)])
            }
            return try rows.map(Self.decodeRun)
        }
    }

    /// The schedule's executions not in a terminal state, oldest first.
    public func activeScheduledExecutions(scheduleID: UUID) async throws(StoreError) -> [UUID] {
        try await perform("active_scheduled_executions") {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    SELECT id FROM executions
                    WHERE schedule_id = $1 AND state NOT IN ('succeeded', 'failed', 'cancelled', 'timed_out', 'lost')
                    ORDER BY created_at
                    """,
                    [PostgresBind(scheduleID)])
            }
            return try rows.compactMap { try $0.uuid("id") }
        }
    }

    private static func decodeSchedule(_ row: PostgresRow) throws -> Schedule {
        let policyText = try row.string("concurrency_policy")
        let catchUpText = try row.string("catch_up")
        guard let policy = Schedule.ConcurrencyPolicy(rawValue: policyText), let catchUp = Schedule.CatchUp(rawValue: catchUpText) else {
            throw PostgresError(code: .decodingFailed, message: "schedule policy \(policyText) or catch-up \(catchUpText) unknown")
        }
        return Schedule(
            id: try ExecutionRow.required(row.uuid("id"), "id"), name: try row.string("name"), cron: try row.string("cron"),
            timeZone: try row.string("time_zone"), template: try row.string("template"),
            parameters: try JSONValue(parsing: try row.string("parameters")),
            run: try JSONValue(parsing: try row.string("run")).objectValue ?? [:],
            concurrencyPolicy: policy, catchUp: catchUp, paused: try row.string("paused") == "t", owner: try row.string("owner"),
            createdAt: try ExecutionRow.required(row.date(micros: "created_us"), "created_us"),
            nextDueAt: try row.date(micros: "next_due_us"), lastDueAt: try row.date(micros: "last_due_us"))
    }

    private static func decodeRun(_ row: PostgresRow) throws -> ScheduleRun {
        let outcomeText = try row.string("outcome")
        guard let outcome = ScheduleRun.Outcome(rawValue: outcomeText) else {
            throw PostgresError(code: .decodingFailed, message: "schedule run outcome \(outcomeText) unknown")
        }
        return ScheduleRun(
            scheduleID: try ExecutionRow.required(row.uuid("schedule_id"), "schedule_id"),
            dueAt: try ExecutionRow.required(row.date(micros: "due_us"), "due_us"), outcome: outcome,
            executionID: try row.uuid("execution_id"), detail: try row.text("detail"),
            recordedAt: try ExecutionRow.required(row.date(micros: "recorded_us"), "recorded_us"))
    }
}
