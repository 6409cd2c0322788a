import BerthCore
import BerthPluginKit
import BerthPostgres
@testable import BerthServer
import BerthTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

/// A wall clock a test sets by hand: schedules read it, so a test crosses minutes in
/// milliseconds.
final class ManualClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date) {
        current = Mutex(start)
    }

    /// The time now.
    func now() -> Date { current.withLock { $0 } }

    /// Sets the time.
    func set(_ date: Date) { current.withLock { $0 = date } }
}

/// A flag one task raises and another waits for.
final class Flag: Sendable {
    private let raised = Mutex(false)

    /// Raises the flag.
    func raise() { raised.withLock { $0 = true } }

    /// Whether it was raised.
    var isRaised: Bool { raised.withLock { $0 } }
}

/// `2026-12-01T<time>Z`, for the schedule tests' clocks.
private func at(_ time: String) -> Date {
    ISO8601DateFormatter().date(from: "2026-12-01T\(time)Z")!
}

/// Waits until `condition` holds (checking every 20 ms), or records an issue after `timeout`.
private func eventually(
    _ what: String, timeout: Duration = .seconds(60), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("timed out waiting: \(what)", sourceLocation: sourceLocation)
    throw CancellationError()
}

/// The executions the schedules made, by due time.
private func scheduledRuns(_ store: any Store) async throws -> [(due: Date, execution: Execution)] {
    try await store.listExecutions(ExecutionQuery(limit: 500)).executions
        .compactMap { execution in execution.schedule.map { ($0.dueAt, execution) } }
        .sorted { $0.due < $1.due }
}

/// One whole server on a database, as `berth serve` assembles it: its own Store (connection
/// pool), the Simulated host `sim`, a supervisor, a Scheduler competing for leadership, the
/// REST app and a ``ScheduleRunner`` that runs while the Scheduler leads. Two of them on one
/// database are two servers of a deployment; one after another, a restart.
private struct ScheduleServer {
    let store: PostgresStore
    let client: any TestClientProtocol
    let scheduler: Scheduler

    /// Runs `body` with a server on `database`, then stops it in `berth serve`'s order.
    static func run(
        _ database: PostgresConfiguration, clock: ManualClock, lockKey: Int64,
        _ body: @Sendable @escaping (ScheduleServer) async throws -> Void
    ) async throws {
        let store = PostgresStore(configuration: database, maxConnections: 4, logger: TestServer.logger)
        let plugins = PluginHost(configuration: PluginHostConfiguration(
            hosts: [TargetHostConfiguration(name: "sim", plugin: "simulated", settings: ["max_concurrent": 50])], serverID: "t"))
        await plugins.start()
        let supervisor = ExecutionSupervisor(store: store, plugins: plugins, logger: TestServer.logger)
        var scheduling = SchedulerConfiguration(defaultHost: "sim")
        scheduling.leaderLockKey = lockKey
        scheduling.leaderRetryInterval = .milliseconds(100)
        let scheduler = Scheduler(store: store, plugins: plugins, supervisor: supervisor, configuration: scheduling, logger: TestServer.logger)
        let schedulerTask = Task { await scheduler.run() }
        let configuration = ServerConfiguration(defaultHost: "sim")
        let context = ServerContext(store: store, plugins: plugins, control: scheduler, now: clock.now)
        var runner = ScheduleRunner(configuration: configuration, context: context, isLeader: { await scheduler.isLeader }, logger: TestServer.logger)
        runner.pollInterval = .milliseconds(20)
        let runnerTask = Task { [runner] in await runner.run() }
        let app = try await buildApplication(configuration: configuration, context: context, logger: TestServer.logger)
        func stop() async {
            runnerTask.cancel()
            await runnerTask.value
            await scheduler.shutdown()
            await schedulerTask.value
            await supervisor.shutdown()
            await plugins.shutdown()
            await store.shutdown()
        }
        do {
            try await app.test(.router) { client in
                try await body(ScheduleServer(store: store, client: client, scheduler: scheduler))
            }
        } catch {
            await stop()
            throw error
        }
        await stop()
    }

    /// Sends a request with `token`.
    func request(_ method: HTTPRequest.Method, _ uri: String, json: JSONValue? = nil, token: String) async throws -> TestResponse {
        var headers: HTTPFields = [.authorization: "Bearer \(token)"]
        var body: ByteBuffer?
        if let json {
            body = ByteBuffer(bytes: json.serialized())
            headers[.contentType] = "application/json"
        }
        return try await client.execute(uri: uri, method: method, headers: headers, body: body)
    }
}

extension ServerTests {
    /// A template whose runs end at once on the Simulated host.
    static let tick: JSONValue = [
        "name": "tick",
        "spec": ["image": "sim/test:1", "env": ["SIM_SECONDS": "0", "SIM_LINES": "1"]],
        "parameters_schema": ["type": "object", "properties": ["size": ["type": "integer", "minimum": 1]]],
    ]

    /// A template whose runs stay queued (no host is configured in the plain harness) or run long.
    static let slow: JSONValue = [
        "name": "slow",
        "spec": ["image": "sim/test:1", "env": ["SIM_SECONDS": "300"]],
    ]

    @Test("schedules: an every-minute schedule makes exactly one execution per minute, across a server restart")
    func everyMinuteAcrossRestart() async throws {
        let clock = ManualClock(at("10:00:30"))
        let lockKey = Int64.random(in: 1...Int64.max)
        try await TestServer.withStore { store, database in
            let admin = try await Harness.makeToken(store, .admin, owner: "admin").text
            try await ScheduleServer.run(database, clock: clock, lockKey: lockKey) { server in
                #expect(try await server.request(.post, "/v1/templates", json: Self.tick, token: admin).status == .created)
                let created = try await server.request(.post, "/v1/schedules", json: [
                    "name": "every-minute", "cron": "* * * * *", "template": "tick@1", "parameters": ["size": 3], "catch_up": "all",
                ], token: admin)
                #expect(created.status == .created, "\(created.text)")
                #expect(try created.json()["next_due_at"] == "2026-12-01T10:01:00Z")
                try await eventually("the first server leads") { await server.scheduler.isLeader }
                // Nothing is due before its time.
                try await Task.sleep(for: .milliseconds(200))
                #expect(try await scheduledRuns(server.store).isEmpty)
                for minute in 1...3 {
                    clock.set(at("10:0\(minute):00").addingTimeInterval(0.5))
                    try await eventually("the run of 10:0\(minute)") { try await scheduledRuns(server.store).count == minute }
                    // Many more passes at the same time make nothing more.
                    try await Task.sleep(for: .milliseconds(200))
                    #expect(try await scheduledRuns(server.store).count == minute)
                }
                // The Simulated host lives in the server's process: its runs end before it stops
                // (a Docker host's would outlive the restart and be adopted by the next leader).
                try await eventually("the first server's runs succeed") {
                    try await scheduledRuns(server.store).allSatisfy { $0.execution.state == .succeeded }
                }
            }
            // The server is down from 10:03:30 to 10:06:10: 10:04, 10:05 and 10:06 are missed,
            // and `catch_up: all` makes each of them once the next server runs.
            clock.set(at("10:06:10"))
            try await ScheduleServer.run(database, clock: clock, lockKey: lockKey) { server in
                try await eventually("the missed runs") { try await scheduledRuns(server.store).count == 6 }
                try await Task.sleep(for: .milliseconds(200))
                #expect(try await scheduledRuns(server.store).count == 6)
                clock.set(at("10:07:01"))
                try await eventually("the run of 10:07") { try await scheduledRuns(server.store).count == 7 }
                try await Task.sleep(for: .milliseconds(200))

                let runs = try await scheduledRuns(server.store)
                #expect(runs.map(\.due) == (1...7).map { at("10:0\($0):00") })
                for (_, execution) in runs {
                    #expect(execution.template == TemplateReference(name: "tick", version: 1))
                    #expect(execution.env["BERTH_PARAM_SIZE"] == "3")
                    #expect(execution.name == "every-minute")
                }
                // They ran: the schedule's executions are ordinary ones.
                try await eventually("the runs succeed") {
                    try await scheduledRuns(server.store).allSatisfy { $0.execution.state == .succeeded }
                }
                let shown = try await server.request(.get, "/v1/schedules/every-minute", token: admin).json()
                let recent = try #require(shown["recent_runs"]?.arrayValue)
                #expect(recent.count == 7)
                #expect(recent.allSatisfy { $0["outcome"] == "created" })
                #expect(shown["last_due_at"] == "2026-12-01T10:07:00Z")
                #expect(shown["next_due_at"] == "2026-12-01T10:08:00Z")
                let one = try await server.request(.get, "/v1/executions/\(Wire.id(runs[0].execution.id))", token: admin).json()
                #expect(one["schedule"]?["name"] == "every-minute")
                #expect(one["schedule"]?["due_at"] == "2026-12-01T10:01:00Z")
            }
        }
    }

    @Test("schedules: only the scheduling leader makes runs; when it stops, the other server takes over without a repeat")
    func leaderFailover() async throws {
        let clock = ManualClock(at("10:00:30"))
        let lockKey = Int64.random(in: 1...Int64.max)
        try await TestServer.withStore { store, database in
            let admin = try await Harness.makeToken(store, .admin, owner: "admin").text
            let firstLeads = Flag(), firstDone = Flag()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await ScheduleServer.run(database, clock: clock, lockKey: lockKey) { server in
                        #expect(try await server.request(.post, "/v1/templates", json: Self.tick, token: admin).status == .created)
                        let created = try await server.request(.post, "/v1/schedules", json: [
                            "name": "failover", "cron": "* * * * *", "template": "tick",
                        ], token: admin)
                        #expect(created.status == .created, "\(created.text)")
                        try await eventually("the first server leads") { await server.scheduler.isLeader }
                        firstLeads.raise()
                        clock.set(at("10:01:00").addingTimeInterval(0.5))
                        try await eventually("the run of 10:01") { try await scheduledRuns(server.store).count == 1 }
                    }
                    firstDone.raise()
                }
                group.addTask {
                    try await eventually("the first server leads") { firstLeads.isRaised }
                    try await ScheduleServer.run(database, clock: clock, lockKey: lockKey) { server in
                        // The second server waits for leadership while the first one leads.
                        try await eventually("the first server stops") { firstDone.isRaised }
                        try await eventually("the second server leads") { await server.scheduler.isLeader }
                        try await Task.sleep(for: .milliseconds(200))
                        #expect(try await scheduledRuns(server.store).count == 1)
                        clock.set(at("10:02:00").addingTimeInterval(0.5))
                        try await eventually("the run of 10:02") { try await scheduledRuns(server.store).count == 2 }
                        try await Task.sleep(for: .milliseconds(200))
                        #expect(try await scheduledRuns(server.store).map(\.due) == [at("10:01:00"), at("10:02:00")])
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test("schedules: two servers handling the same due times at once still make each run once")
    func concurrentPassesMakeEachRunOnce() async throws {
        let clock = ManualClock(at("10:00:30"))
        try await ServerHarness.run(now: clock.now) { h in
            #expect(try await h.request(.post, "/v1/templates", json: Self.tick).status == .created)
            for name in ["a", "b", "c"] {
                let created = try await h.request(.post, "/v1/schedules", json: [
                    "name": .string(name), "cron": "* * * * *", "template": "tick", "catch_up": "all",
                ])
                #expect(created.status == .created, "\(created.text)")
            }
            let runners = (0..<4).map { _ in
                ScheduleRunner(configuration: h.configuration, context: h.context, isLeader: { true }, logger: TestServer.logger)
            }
            for minute in 1...5 {
                clock.set(at("10:0\(minute):00"))
                await withTaskGroup(of: Void.self) { group in
                    for runner in runners { group.addTask { await runner.runDue() } }
                }
            }
            let runs = try await scheduledRuns(h.store)
            #expect(runs.count == 15)
            for name in ["a", "b", "c"] {
                #expect(runs.filter { $0.execution.schedule?.name == name }.map(\.due) == (1...5).map { at("10:0\($0):00") })
            }
            // A server that does not lead makes nothing.
            clock.set(at("10:06:00"))
            await ScheduleRunner(configuration: h.configuration, context: h.context, isLeader: { false }, logger: TestServer.logger).run(untilCancelledAfter: .milliseconds(100))
            #expect(try await scheduledRuns(h.store).count == 15)
        }
    }

    @Test("schedules: catch_up none, latest and all after a downtime", arguments: [
        ("none", 0, 4), ("latest", 1, 3), ("all", 4, 0),
    ])
    func catchUp(setting: String, made: Int, missed: Int) async throws {
        let clock = ManualClock(at("10:00:30"))
        try await ServerHarness.run(now: clock.now) { h in
            #expect(try await h.request(.post, "/v1/templates", json: Self.tick).status == .created)
            let created = try await h.request(.post, "/v1/schedules", json: [
                "name": "five", "cron": "*/5 * * * *", "template": "tick", "catch_up": .string(setting),
            ])
            #expect(created.status == .created, "\(created.text)")
            // Down from before 10:05 until 10:21:30: 10:05, 10:10, 10:15 and 10:20 passed; the
            // latest is 90 s late, past the on-time window.
            clock.set(at("10:21:30"))
            let runner = ScheduleRunner(configuration: h.configuration, context: h.context, isLeader: { true }, logger: TestServer.logger)
            let records = await runner.runDue()
            #expect(records.filter { $0.outcome == .created }.count == made)
            #expect(records.filter { $0.outcome == .missed }.count == missed)
            #expect(try await scheduledRuns(h.store).count == made)
            if setting == "latest" { #expect(try await scheduledRuns(h.store).map(\.due) == [at("10:20:00")]) }
            let shown = try await h.request(.get, "/v1/schedules/five").json()
            #expect(shown["next_due_at"] == "2026-12-01T10:25:00Z")
            #expect(shown["recent_runs"]?.arrayValue?.count == 4)
            // Handled once: a second pass at the same time records nothing new.
            #expect(await runner.runDue().isEmpty)
        }
    }

    @Test("schedules: after a month down, an every-minute schedule makes the latest run and records the 99 before it as missed")
    func longOutage() async throws {
        let clock = ManualClock(at("10:00:30"))
        try await ServerHarness.run(now: clock.now) { h in
            #expect(try await h.request(.post, "/v1/templates", json: Self.tick).status == .created)
            let created = try await h.request(.post, "/v1/schedules", json: ["name": "minutely", "cron": "* * * * *", "template": "tick"])
            #expect(created.status == .created, "\(created.text)")
            // 43,200 due times passed.
            clock.set(at("10:00:30").addingTimeInterval(30 * 86_400))
            let runner = ScheduleRunner(configuration: h.configuration, context: h.context, isLeader: { true }, logger: TestServer.logger)
            let records = await runner.runDue()
            #expect(records.count == Schedule.maxCatchUpRuns)
            #expect(records.filter { $0.outcome == .created }.map(\.dueAt) == [at("10:00:00").addingTimeInterval(30 * 86_400)])
            #expect(records.filter { $0.outcome == .missed }.count == Schedule.maxCatchUpRuns - 1)
            let shown = try await h.request(.get, "/v1/schedules/minutely").json()
            #expect(shown["next_due_at"] == "2026-12-31T10:01:00Z")
        }
    }

    @Test("schedules: concurrency_policy allow, forbid and replace while an earlier run is active")
    func concurrencyPolicies() async throws {
        let clock = ManualClock(at("10:00:30"))
        // No scheduler runs here: every run stays queued, so an earlier one is always active.
        try await ServerHarness.run(now: clock.now) { h in
            #expect(try await h.request(.post, "/v1/templates", json: Self.slow).status == .created)
            for policy in ["allow", "forbid", "replace"] {
                let created = try await h.request(.post, "/v1/schedules", json: [
                    "name": .string(policy), "cron": "* * * * *", "template": "slow", "concurrency_policy": .string(policy),
                ])
                #expect(created.status == .created, "\(created.text)")
            }
            let runner = ScheduleRunner(configuration: h.configuration, context: h.context, isLeader: { true }, logger: TestServer.logger)
            clock.set(at("10:01:00"))
            await runner.runDue()
            clock.set(at("10:02:00"))
            let second = await runner.runDue()
            let runs = try await scheduledRuns(h.store)
            func states(_ name: String) -> [ExecutionState] {
                runs.filter { $0.execution.schedule?.name == name }.map(\.execution.state)
            }
            #expect(states("allow") == [.queued, .queued])
            #expect(states("forbid") == [.queued])
            let skipped = try #require(second.first { $0.outcome == .skipped })
            let forbidFirst = try #require(runs.first { $0.execution.schedule?.name == "forbid" }).execution.id
            #expect(skipped.detail?.contains(Wire.id(forbidFirst)) == true, "\(skipped.detail ?? "")")
            try await eventually("the replaced run is cancelled") {
                let replaced = try await scheduledRuns(h.store).filter { $0.execution.schedule?.name == "replace" }.map(\.execution.state)
                return replaced == [.cancelled, .queued]
            }
            let shown = try await h.request(.get, "/v1/schedules/forbid").json()
            #expect(shown["recent_runs"]?.arrayValue?.map { $0["outcome"] } == ["skipped", "created"])
        }
    }

    @Test("schedules: create checks the cron expression, time zone, template, parameters and run fields, naming each")
    func scheduleValidation() async throws {
        try await ServerHarness.run { h in
            #expect(try await h.request(.post, "/v1/templates", json: Self.tick).status == .created)
            let good: [String: JSONValue] = ["name": "nightly", "cron": "0 3 * * *", "template": "tick@1"]
            func with(_ changes: [String: JSONValue]) -> JSONValue { .object(good.merging(changes) { $1 }) }
            let cases: [(JSONValue, HTTPResponse.Status, String, String)] = [
                (with(["cron": "61 * * * *"]), .unprocessableContent, "invalid_cron", "cron"),
                (with(["cron": "* * *"]), .unprocessableContent, "invalid_cron", "cron"),
                (with(["cron": "0 0 30 2 *"]), .unprocessableContent, "invalid_cron", "cron"),
                (with(["time_zone": "Mars/Olympus"]), .unprocessableContent, "invalid_field", "time_zone"),
                (with(["template": "nothing@1"]), .notFound, "template_not_found", "template"),
                (with(["template": "Bad Name"]), .unprocessableContent, "invalid_field", "template"),
                (with(["parameters": ["size": 0]]), .unprocessableContent, "invalid_parameters", "parameters.size"),
                (with(["run": ["image": "x"]]), .unprocessableContent, "unknown_field", "run.image"),
                (with(["run": ["priority": "high"]]), .unprocessableContent, "invalid_field", "run.priority"),
                (with(["run": ["target_host": "nowhere"]]), .unprocessableContent, "unknown_target_host", "run.target_host"),
                (with(["concurrency_policy": "sometimes"]), .unprocessableContent, "invalid_field", "concurrency_policy"),
                (with(["catch_up": "maybe"]), .unprocessableContent, "invalid_field", "catch_up"),
                (with(["name": "Nightly!"]), .unprocessableContent, "invalid_field", "name"),
                (with(["every": "day"]), .unprocessableContent, "unknown_field", "every"),
            ]
            for (body, status, code, field) in cases {
                try h.expectProblem(try await h.request(.post, "/v1/schedules", json: body), status: status, code: code, field: field)
            }
            #expect(try await h.request(.get, "/v1/schedules").json()["items"]?.arrayValue?.isEmpty == true)

            let created = try await h.request(.post, "/v1/schedules", json: with(["time_zone": "Europe/Berlin", "parameters": ["size": 2]]))
            #expect(created.status == .created, "\(created.text)")
            #expect(try created.json()["time_zone"] == "Europe/Berlin")
            #expect(try created.json()["concurrency_policy"] == "allow" && created.json()["catch_up"] == "latest")
            let utc = try await h.request(.post, "/v1/schedules", json: with(["name": "utc"]))
            #expect(try utc.json()["time_zone"] == "UTC", "\(utc.text)")
            try h.expectProblem(try await h.request(.post, "/v1/schedules", json: with([:])), status: .conflict, code: "schedule_exists", field: "name")
        }
    }

    @Test("schedules: list, show, pause, resume and delete; a submitter sees and changes only its own; a viewer only reads")
    func scheduleLifecycle() async throws {
        let clock = ManualClock(at("10:00:30"))
        try await ServerHarness.run(now: clock.now) { h in
            #expect(try await h.request(.post, "/v1/templates", json: Self.tick).status == .created)
            let alice = try await h.makeToken(.submitter, owner: "alice")
            let bob = try await h.makeToken(.submitter, owner: "bob")
            let viewer = try await h.makeToken(.viewer, owner: "v")
            let body: JSONValue = ["name": "alices", "cron": "@hourly", "template": "tick"]
            #expect(try await h.request(.post, "/v1/schedules", json: body, as: .token(alice)).status == .created)
            try h.expectProblem(
                try await h.request(.post, "/v1/schedules", json: ["name": "v", "cron": "@hourly", "template": "tick"], as: .token(viewer)),
                status: .forbidden, code: "forbidden")
            #expect(try await h.request(.get, "/v1/schedules", as: .token(bob)).json()["items"]?.arrayValue?.isEmpty == true)
            #expect(try await h.request(.get, "/v1/schedules", as: .token(viewer)).json()["items"]?.arrayValue?.count == 1)
            try h.expectProblem(try await h.request(.get, "/v1/schedules/alices", as: .token(bob)), status: .notFound, code: "schedule_not_found")
            try h.expectProblem(try await h.request(.post, "/v1/schedules/alices/pause", as: .token(bob)), status: .notFound, code: "schedule_not_found")

            let shown = try await h.request(.get, "/v1/schedules/alices", as: .token(alice)).json()
            #expect(shown["owner"] == "alice" && shown["next_due_at"] == "2026-12-01T11:00:00Z")
            let paused = try await h.request(.post, "/v1/schedules/alices/pause", as: .token(alice)).json()
            #expect(paused["paused"] == true && paused["next_due_at"] == .null)
            // Paused over a due time: nothing is made, and resuming starts from now.
            clock.set(at("12:30:00"))
            let runner = ScheduleRunner(configuration: h.configuration, context: h.context, isLeader: { true }, logger: TestServer.logger)
            #expect(await runner.runDue().isEmpty)
            let resumed = try await h.request(.post, "/v1/schedules/alices/resume", as: .token(alice)).json()
            #expect(resumed["paused"] == false && resumed["next_due_at"] == "2026-12-01T13:00:00Z")
            #expect(await runner.runDue().isEmpty)

            try h.expectProblem(try await h.request(.delete, "/v1/schedules/alices", as: .token(viewer)), status: .forbidden, code: "forbidden")
            #expect(try await h.request(.delete, "/v1/schedules/alices", as: .token(alice)).status == .noContent)
            try h.expectProblem(try await h.request(.get, "/v1/schedules/alices"), status: .notFound, code: "schedule_not_found")
        }
    }
}

extension ScheduleRunner {
    /// Runs passes for `duration`, then stops.
    fileprivate func run(untilCancelledAfter duration: Duration) async {
        var runner = self
        runner.pollInterval = .milliseconds(10)
        let task = Task { [runner] in await runner.run() }
        try? await Task.sleep(for: duration)
        task.cancel()
        await task.value
    }
}
