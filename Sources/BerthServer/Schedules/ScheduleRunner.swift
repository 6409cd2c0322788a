public import BerthCore
import BerthPluginKit
public import Foundation
public import Logging

/// Makes the runs of the schedules (docs/schedules.md): every ``pollInterval``, while this
/// server is the scheduling leader, it handles each due time of each due schedule.
///
/// A due time is handled once in the whole deployment, also across restarts and a failover in
/// the middle of a pass:
///
/// 1. its decision (`created` with the execution's id, `skipped`, `missed` or `failed`) is
///    recorded first, keyed by the schedule and the due time; the first record written holds,
///    and a server that comes to the same due time later follows it;
/// 2. a `created` run's execution has an id derived from the schedule and the due time, so
///    submitting it again (after a crash between record and submission) finds it there;
/// 3. the schedule's `next_due_at` moves on only with a compare-and-set on its old value.
///
/// It is every server's task, but only the leader's passes run; two servers that both believe
/// they lead (a lost lock noticed late) still make each run once.
public struct ScheduleRunner: Sendable {
    private let intake: SubmissionIntake
    private let isLeader: @Sendable () async -> Bool
    private let logger: Logger
    /// How often due schedules are looked for.
    public var pollInterval: Duration = .seconds(1)
    /// Due times walked one by one past the ones handled before the walk skips to the last day.
    private static let longestWalk = 10_000

    /// A runner submitting through `context`'s Store, as the API would.
    /// - Parameters:
    ///   - configuration: The server's configuration (default host, policies, webhook URLs).
    ///   - context: The Store, plugins, control (for `replace`) and the wall clock.
    ///   - isLeader: Whether this server is the scheduling leader now.
    ///   - logger: Where to log.
    public init(
        configuration: ServerConfiguration, context: ServerContext, isLeader: @escaping @Sendable () async -> Bool, logger: Logger
    ) {
        self.intake = SubmissionIntake(configuration: configuration, context: context)
        self.isLeader = isLeader
        self.logger = logger
    }

    private var store: any Store { intake.context.store }

    /// Runs passes until cancelled.
    public func run() async {
        while !Task.isCancelled {
            if await isLeader() { await runDue() }
            do { try await Task.sleep(for: pollInterval) } catch { return }
        }
    }

    /// One pass: handles every due time of every schedule due now.
    /// - Returns: The run records of the due times handled.
    @discardableResult
    public func runDue() async -> [ScheduleRun] {
        let now = intake.context.now()
        let due: [Schedule]
        do {
            due = try await store.dueSchedules(at: now, limit: 100)
        } catch {
            logger.warning("could not read the due schedules", metadata: ["error": "\(error)"])
            return []
        }
        var records: [ScheduleRun] = []
        for schedule in due where !Task.isCancelled {
            records += await handle(schedule, now: now)
        }
        return records
    }

    /// The submission a run of `schedule` makes: its run fields, the template and the parameters.
    static func submission(of schedule: Schedule) -> JSONValue {
        var body = schedule.run
        body["template"] = .string(schedule.template)
        body["parameters"] = schedule.parameters
        if body["name"] == nil { body["name"] = .string(schedule.name) }
        return .object(body)
    }

    /// Handles the due times of `schedule` up to `now`, then moves its next due time on.
    private func handle(_ schedule: Schedule, now: Date) async -> [ScheduleRun] {
        var logger = logger
        logger[metadataKey: "schedule"] = .string(schedule.name)
        guard let first = schedule.nextDueAt, let (cron, zone) = schedule.timetable else {
            logger.error("schedule has an unreadable timetable; it is left alone", metadata: ["cron": .string(schedule.cron)])
            return []
        }
        // The due times up to now; only the most recent ``maxCatchUpRuns`` are handled one by one.
        var dueTimes: [Date] = []
        var dropped = 0
        var next: Date? = first
        while let due = next, due <= now {
            dueTimes.append(due)
            if dueTimes.count > Schedule.maxCatchUpRuns {
                dueTimes.removeFirst()
                dropped += 1
            }
            next = cron.next(after: due, in: zone)
            // After a long outage (weeks of an every-minute schedule) the walk jumps to the last
            // day: the times before it are beyond the ones handled anyway.
            if dropped == Self.longestWalk, let cursor = next, cursor < now.addingTimeInterval(-86_400) {
                next = cron.next(after: now.addingTimeInterval(-86_400), in: zone)
            }
        }
        guard let latest = dueTimes.last else { return [] }
        if dropped > 0 {
            logger.warning("schedule missed more runs than are recorded", metadata: [
                "unrecorded": "\(dropped)\(dropped >= Self.longestWalk ? " or more" : "")",
            ])
        }
        var records: [ScheduleRun] = []
        for due in dueTimes {
            let made: Bool = switch schedule.catchUp {
            case .all: true
            case .latest: due == latest
            case .none: due == latest && now.timeIntervalSince(due) <= Schedule.onTimeWindow
            }
            do {
                records.append(made
                    ? try await make(schedule, due: due, logger: logger)
                    : try await store.recordScheduleRun(ScheduleRun(
                        scheduleID: schedule.id, dueAt: due, outcome: .missed,
                        detail: "came due while no server made the schedule's runs (catch_up: \(schedule.catchUp.rawValue))")))
            } catch {
                // Handled again by the next pass: the records written so far hold.
                logger.warning("could not handle a due run; trying again", metadata: ["due_at": .string(Wire.timestamp(due).rfc3339), "error": "\(error)"])
                return records
            }
        }
        do {
            if try await !store.advanceSchedule(id: schedule.id, from: first, to: next, handled: latest) {
                logger.info("schedule changed during the pass (paused, resumed or handled by another server)")
            }
        } catch {
            logger.warning("could not move the schedule on; the next pass will", metadata: ["error": "\(error)"])
        }
        return records
    }

    /// Decides, records and makes the run of `schedule` due at `due`.
    private func make(_ schedule: Schedule, due: Date, logger: Logger) async throws -> ScheduleRun {
        let id = IdempotencyKey.uuidV5(namespace: schedule.id, name: Array(Wire.timestamp(due).rfc3339.utf8))
        // Only forbid and replace look at the earlier runs; allow needs no query.
        let active = schedule.concurrencyPolicy == .allow
            ? [] : try await store.activeScheduledExecutions(scheduleID: schedule.id).filter { $0 != id }
        var new: NewExecution?
        var decision: ScheduleRun
        if schedule.concurrencyPolicy == .forbid, !active.isEmpty {
            decision = ScheduleRun(
                scheduleID: schedule.id, dueAt: due, outcome: .skipped,
                detail: "an earlier run is active (\(active.map(Wire.id).joined(separator: ", "))); concurrency_policy: forbid")
        } else {
            do {
                new = try await execution(of: schedule, due: due, id: id)
                decision = ScheduleRun(
                    scheduleID: schedule.id, dueAt: due, outcome: .created, executionID: id,
                    detail: schedule.concurrencyPolicy == .replace && !active.isEmpty
                        ? "replaces \(active.map(Wire.id).joined(separator: ", "))" : nil)
            } catch let problem as Problem {
                decision = ScheduleRun(scheduleID: schedule.id, dueAt: due, outcome: .failed, detail: "the run was refused: \(problem.detail)")
            }
        }
        let recorded = try await store.recordScheduleRun(decision)
        var runLogger = logger
        runLogger[metadataKey: "due_at"] = .string(Wire.timestamp(due).rfc3339)
        guard recorded.outcome == .created, let executionID = recorded.executionID else {
            runLogger.log(level: recorded.outcome == .failed ? .warning : .info, "scheduled run not made", metadata: [
                "outcome": .string(recorded.outcome.rawValue), "detail": .string(recorded.detail ?? ""),
            ])
            return recorded
        }
        runLogger[metadataKey: "execution.id"] = .string(Wire.id(executionID))
        // Another server may have recorded this decision and then stopped: its execution is made
        // here (with the same id: both derive it from the schedule and the due time).
        let submission = if let new { new } else { try await execution(of: schedule, due: due, id: executionID) }
        do {
            _ = try await store.createExecution(submission)
            runLogger.info("scheduled run submitted")
        } catch {
            guard error.code == .conflict else { throw error }
            runLogger.info("scheduled run was already submitted")
        }
        if schedule.concurrencyPolicy == .replace {
            for earlier in active {
                _ = try await intake.context.control.cancel(
                    earlier, reason: "replaced by the run of schedule \(schedule.name) due at \(Wire.timestamp(due).rfc3339)")
            }
        }
        return recorded
    }

    /// The execution a run of `schedule` due at `due` submits.
    private func execution(of schedule: Schedule, due: Date, id: UUID) async throws -> NewExecution {
        var new = try await intake.newExecution(Self.submission(of: schedule), owner: schedule.owner, id: id)
        new.schedule = ScheduleOrigin(id: schedule.id, name: schedule.name, dueAt: due)
        return new
    }
}
