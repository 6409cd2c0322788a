import BerthCore
import BerthPluginKit
import Foundation
import Hummingbird
import Logging

/// `POST /v1/schedules`, `GET /v1/schedules`, `GET /v1/schedules/{name}`,
/// `POST /v1/schedules/{name}/pause`, `POST /v1/schedules/{name}/resume` and
/// `DELETE /v1/schedules/{name}` (docs/schedules.md). The ``ScheduleRunner`` makes the runs.
extension API {
    /// The body of `POST /v1/schedules`.
    struct ScheduleRequest {
        var name: String
        var cron: CronExpression
        var cronText: String
        var timeZone: TimeZone
        /// The zone as given (Foundation names `UTC` `GMT`).
        var timeZoneName: String
        var template: String
        var parameters: JSONValue
        var run: [String: JSONValue]
        var concurrencyPolicy: Schedule.ConcurrencyPolicy
        var catchUp: Schedule.CatchUp
        var paused: Bool

        static let fields: Set<String> = [
            "name", "cron", "time_zone", "template", "parameters", "run", "concurrency_policy", "catch_up", "paused",
        ]
        /// The submission fields `run` may hold: a template run's own fields, but the secret
        /// environment (a schedule does not keep secrets).
        static let runFields = SubmissionIntake.templateRunFields.subtracting(["secret_env"])

        init(body bytes: [UInt8]) throws(Problem) {
            self = try JSONRequestBody.read(bytes, allowed: Self.fields, ScheduleRequest.init(reader:))
        }

        private init(reader: JSONObjectReader) throws {
            name = try reader.string("name")
            if let problem = TemplateName.problem(name) { throw Problem.invalid("name", problem) }
            cronText = try reader.string("cron")
            do {
                cron = try CronExpression(cronText)
            } catch {
                throw Problem.invalid("cron", error.description, code: "invalid_cron")
            }
            let zone = try reader.optionalString("time_zone") ?? "UTC"
            guard let timeZone = TimeZone(identifier: zone), !zone.isEmpty else {
                throw Problem.invalid("time_zone", "\(JSONValue.string(zone).jsonText) is not a time zone of the IANA database (Europe/Berlin, UTC, …)")
            }
            self.timeZone = timeZone
            timeZoneName = zone
            template = try reader.string("template")
            guard TemplateName.parse(template) != nil else {
                throw Problem.invalid("template", "must be a template reference such as solver@3, solver@latest or solver")
            }
            parameters = reader.value("parameters").flatMap { $0 == .null ? nil : $0 } ?? [:]
            guard parameters.objectValue != nil else { throw Problem.invalid("parameters", "must be an object") }
            switch reader.value("run") {
            case nil, .null?:
                run = [:]
            case .object(let members)?:
                if let field = members.keys.sorted().first(where: { !Self.runFields.contains($0) }) {
                    throw Problem.invalid(
                        "run.\(field)", "a schedule's run may set only \(Self.runFields.sorted().joined(separator: ", "))", code: "unknown_field")
                }
                run = members
            default:
                throw Problem.invalid("run", "must be an object")
            }
            concurrencyPolicy = try Self.choice("concurrency_policy", reader, default: .allow)
            catchUp = try Self.choice("catch_up", reader, default: .latest)
            paused = try reader.optionalBool("paused") ?? false
        }

        private static func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ reader: JSONObjectReader, default value: T) throws -> T
        where T.RawValue == String {
            guard let text = try reader.optionalString(key) else { return value }
            guard let choice = T(rawValue: text) else {
                throw Problem.invalid(key, "must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return choice
        }
    }

    func createSchedule(_ request: Request, _ caller: Principal) async throws -> Response {
        let wanted = try ScheduleRequest(body: try await Self.readBody(request, limit: configuration.maxBodyBytes))
        // A run is checked now as the leader will submit it, so a schedule that is accepted
        // makes runs that are (unless its template changes).
        let now = context.now()
        let schedule = Schedule(
            id: UUID(), name: wanted.name, cron: wanted.cronText, timeZone: wanted.timeZoneName, template: wanted.template,
            parameters: wanted.parameters, run: wanted.run, concurrencyPolicy: wanted.concurrencyPolicy, catchUp: wanted.catchUp,
            paused: wanted.paused, owner: caller.owner, createdAt: now, nextDueAt: nil, lastDueAt: nil)
        try await checkRun(of: schedule, owner: caller.owner)
        var stored = schedule
        if !wanted.paused {
            guard let next = wanted.cron.next(after: now, in: wanted.timeZone) else {
                throw Problem.invalid("cron", "\(wanted.cronText) never comes due (no such date)", code: "invalid_cron")
            }
            stored.nextDueAt = next
        }
        do {
            stored = try await context.store.createSchedule(stored)
        } catch {
            guard error.code == .conflict else { throw error }
            throw Problem(.conflict, code: "schedule_exists", title: "Schedule exists",
                          detail: "a schedule named \(wanted.name) exists; delete it first or choose another name", field: "name")
        }
        return JSONBody.response(Wire.schedule(stored), status: .created)
    }

    /// Checks a run of `schedule` as the leader will submit it; a fault in the run's own fields
    /// is named inside `run` (`run.labels`).
    private func checkRun(of schedule: Schedule, owner: String) async throws {
        do {
            _ = try await intake.newExecution(ScheduleRunner.submission(of: schedule), owner: owner, id: nil)
        } catch let problem as Problem {
            let field = problem.field ?? ""
            if field == "template" || field.hasPrefix("parameters") || field.hasPrefix("$") { throw problem }
            throw problem.prefixingField("run")
        }
    }

    func listSchedules(_ caller: Principal) async throws -> Response {
        let visible = try await context.store.schedules().filter { caller.role != .submitter || $0.owner == caller.owner }
        return JSONBody.response(["items": .array(visible.map { Wire.schedule($0) })])
    }

    /// The schedule the route's `{id}` names, if the caller may see it: a submitter sees (and
    /// changes) only its own; another owner's is 404 to it, as executions are.
    func schedule(_ context: some RequestContext, _ caller: Principal) async throws -> Schedule {
        let name = Self.reference(context)
        guard TemplateName.problem(name) == nil, let schedule = try await self.context.store.schedule(name: name),
              caller.role != .submitter || schedule.owner == caller.owner
        else {
            throw Problem(.notFound, code: "schedule_not_found", title: "Schedule not found",
                          detail: "no schedule named \(JSONValue.string(name).jsonText)")
        }
        return schedule
    }

    func showSchedule(_ context: some RequestContext, _ caller: Principal) async throws -> Response {
        let schedule = try await schedule(context, caller)
        let runs = try await self.context.store.scheduleRuns(scheduleID: schedule.id, limit: 20)
        return JSONBody.response(Wire.schedule(schedule, recentRuns: runs))
    }

    /// Pauses (`paused: true`) or resumes a schedule; resuming sets its next run after now, so
    /// the times that passed while paused are not made.
    func pauseSchedule(_ context: some RequestContext, _ caller: Principal, paused: Bool) async throws -> Response {
        let schedule = try await schedule(context, caller)
        var next: Date?
        if !paused {
            guard let timetable = schedule.timetable else {
                throw StoreError(code: .corruptData, message: "schedule \(schedule.name) holds an unreadable timetable")
            }
            next = timetable.cron.next(after: self.context.now(), in: timetable.zone)
        }
        guard let changed = try await self.context.store.setSchedulePaused(name: schedule.name, paused: paused, nextDueAt: next) else {
            throw Problem(.notFound, code: "schedule_not_found", title: "Schedule not found", detail: "no schedule named \(schedule.name)")
        }
        context.logger.notice(paused ? "schedule paused" : "schedule resumed")
        return JSONBody.response(Wire.schedule(changed))
    }

    func deleteSchedule(_ context: some RequestContext, _ caller: Principal) async throws -> Response {
        let schedule = try await schedule(context, caller)
        _ = try await self.context.store.deleteSchedule(name: schedule.name)
        context.logger.notice("schedule deleted")
        return Response(status: .noContent)
    }
}
