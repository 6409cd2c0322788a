public import BerthPluginKit
public import Foundation

/// A timetable that runs a template: at every time its cron expression names in its time zone,
/// the scheduling leader submits one execution of the template with the schedule's parameters
/// (docs/schedules.md).
public struct Schedule: Sendable, Hashable {
    /// What happens when a run comes due while an earlier run of the same schedule is active.
    public enum ConcurrencyPolicy: String, Sendable, Hashable, CaseIterable {
        /// The new run starts next to the active ones.
        case allow
        /// The new run is skipped (recorded as `skipped`) while one is active.
        case forbid
        /// The active runs are cancelled and the new run starts.
        case replace
    }

    /// Which of the runs that came due while no server ran (or the schedule's runs were
    /// otherwise late) are still made.
    public enum CatchUp: String, Sendable, Hashable, CaseIterable {
        /// None: a run more than ``Schedule/onTimeWindow`` late is recorded as `missed`.
        case none
        /// Only the latest of the missed runs is made; the others are recorded as `missed`.
        case latest
        /// Every missed run is made, oldest first, at most ``Schedule/maxCatchUpRuns`` of them
        /// (the most recent ones).
        case all
    }

    /// How late a run may be made under `catch_up: none`.
    public static let onTimeWindow: TimeInterval = 60
    /// The most missed runs one pass makes or records; older ones are only counted in the log.
    public static let maxCatchUpRuns = 100

    /// The schedule's id (an execution it makes records it).
    public var id: UUID
    /// Its unique name.
    public var name: String
    /// The cron expression, as given.
    public var cron: String
    /// The IANA time zone the expression is read in (`Europe/Berlin`).
    public var timeZone: String
    /// The template reference each run submits (`solver@3`, or `solver` for the newest at each run).
    public var template: String
    /// The parameters of each run (an object).
    public var parameters: JSONValue
    /// Further fields of each run's submission (`labels`, `priority`, `target_host`, …).
    public var run: [String: JSONValue]
    /// What a due run does while an earlier one is active.
    public var concurrencyPolicy: ConcurrencyPolicy
    /// What happens to runs missed while no server ran.
    public var catchUp: CatchUp
    /// Whether runs are held back (nothing comes due while paused).
    public var paused: Bool
    /// Who owns the schedule; its runs are submitted as this owner.
    public var owner: String
    /// When it was created.
    public var createdAt: Date
    /// The next time a run is due; `nil` when the expression never fires again or it is paused.
    public var nextDueAt: Date?
    /// The last due time that was handled (made, skipped or missed).
    public var lastDueAt: Date?

    /// A stored schedule.
    public init(
        id: UUID, name: String, cron: String, timeZone: String, template: String, parameters: JSONValue,
        run: [String: JSONValue], concurrencyPolicy: ConcurrencyPolicy, catchUp: CatchUp, paused: Bool, owner: String,
        createdAt: Date, nextDueAt: Date?, lastDueAt: Date?
    ) {
        self.id = id
        self.name = name
        self.cron = cron
        self.timeZone = timeZone
        self.template = template
        self.parameters = parameters
        self.run = run
        self.concurrencyPolicy = concurrencyPolicy
        self.catchUp = catchUp
        self.paused = paused
        self.owner = owner
        self.createdAt = createdAt
        self.nextDueAt = nextDueAt
        self.lastDueAt = lastDueAt
    }
}

extension Schedule {
    /// The stored timetable read back: its expression and its time zone; `nil` when either no
    /// longer reads (both are checked before a schedule is stored).
    public var timetable: (cron: CronExpression, zone: TimeZone)? {
        guard let zone = TimeZone(identifier: timeZone), let expression = try? CronExpression(cron) else { return nil }
        return (expression, zone)
    }
}

/// One due time of a schedule and what became of it; at most one exists per schedule and due
/// time, which is what makes each run happen once.
public struct ScheduleRun: Sendable, Hashable {
    /// What became of a due time.
    public enum Outcome: String, Sendable, Hashable, CaseIterable {
        /// An execution was submitted (``ScheduleRun/executionID``).
        case created
        /// The concurrency policy `forbid` held it back: an earlier run was active.
        case skipped
        /// It came due while no server ran, and `catch_up` did not make it.
        case missed
        /// Its submission was refused (the template or its parameters no longer fit); the
        /// detail says why.
        case failed
    }

    /// The schedule.
    public var scheduleID: UUID
    /// The time it came due.
    public var dueAt: Date
    /// What became of it.
    public var outcome: Outcome
    /// The execution submitted for it (`created` only).
    public var executionID: UUID?
    /// Why it was skipped, missed or failed, or which runs it replaced.
    public var detail: String?
    /// When the outcome was recorded (set by the Store).
    public var recordedAt: Date

    /// A run record.
    public init(scheduleID: UUID, dueAt: Date, outcome: Outcome, executionID: UUID? = nil, detail: String? = nil, recordedAt: Date = Date()) {
        self.scheduleID = scheduleID
        self.dueAt = dueAt
        self.outcome = outcome
        self.executionID = executionID
        self.detail = detail
        self.recordedAt = recordedAt
    }
}

/// Which schedule and due time an execution was made for.
public struct ScheduleOrigin: Sendable, Hashable, Codable {
    /// The schedule's id.
    public var id: UUID
    /// The schedule's name when the run was made.
    public var name: String
    /// The due time the run was made for.
    public var dueAt: Date

    /// An origin.
    public init(id: UUID, name: String, dueAt: Date) {
        self.id = id
        self.name = name
        self.dueAt = dueAt
    }
}
