import BerthPluginKit
import BerthTestSupport
import Foundation
import Testing

/// `berth schedule create|list|show|pause|resume|delete` against a `berth serve` with a
/// Simulated host. (The runs themselves are tested with a clock moved by hand, in ServerTests.)
@Suite("berth schedule")
struct ScheduleCommandTests {
    /// `berth serve` with the Simulated host `sim` (labels zone=a), and `template` registered.
    private static func serve(_ name: String, template: String) async throws -> (ServedBerth, [String: String]) {
        let served = try await ServedBerth(name) { _ in
            """
            default_host: sim
            hosts:
              - {name: sim, plugin: simulated, labels: {zone: a}}
            """
        }
        let env = ["BERTH_URL": served.url, "BERTH_TOKEN": served.token]
        let file = served.folder.appendingPathComponent("template.yaml")
        try template.write(to: file, atomically: true, encoding: .utf8)
        let registered = try await Subprocess.berth(["template", "create", file.path], environment: env)
        #expect(registered.status == 0, "\(registered.stdout)\(registered.stderr)")
        return (served, env)
    }

    @Test("create with parameters and run fields, list, show, pause, resume, delete; a bad expression is refused naming cron")
    func scheduleCommands() async throws {
        let (served, env) = try await Self.serve("berth-schedules", template: """
            name: nightly
            spec:
              image: sim/nightly:1
            parameters_schema:
              type: object
              properties:
                steps: {type: integer, minimum: 1}
            """)

        let created = try await Subprocess.berth([
            "schedule", "create", "nightly-run", "--cron", "30 2 * * *", "--time-zone", "Europe/Berlin", "--template", "nightly@1",
            "-p", "steps=4", "--concurrency", "forbid", "--catch-up", "none", "--label", "team=ml", "--host-label", "zone=a",
        ], environment: env)
        #expect(created.status == 0 && created.stdout.hasPrefix("nightly-run: next run 20"), "\(created.stdout)\(created.stderr)")

        let json = try await Subprocess.berth(["schedule", "show", "nightly-run", "--json"], environment: env)
        let schedule = try JSONValue(parsing: json.stdout)
        #expect(schedule["parameters"] == ["steps": 4] && schedule["concurrency_policy"] == "forbid" && schedule["catch_up"] == "none")
        #expect(schedule["run"] == ["labels": ["team": "ml"], "host_selector": ["zone": "a"]], "\(json.stdout)")
        // 02:30 in Berlin is 01:30 UTC in winter.
        #expect(schedule["next_due_at"]?.stringValue?.hasSuffix("T01:30:00Z") == true, "\(json.stdout)")

        let listed = try await Subprocess.berth(["schedule", "list"], environment: env)
        #expect(listed.stdout.contains("nightly-run") && listed.stdout.contains("30 2 * * *") && listed.stdout.contains("active"), "\(listed.stdout)")
        let shown = try await Subprocess.berth(["schedule", "show", "nightly-run"], environment: env)
        #expect(shown.stdout.contains("30 2 * * * (Europe/Berlin)") && shown.stdout.contains("forbid"), "\(shown.stdout)")

        let paused = try await Subprocess.berth(["schedule", "pause", "nightly-run"], environment: env)
        #expect(paused.stdout == "nightly-run paused\n", "\(paused.stdout)\(paused.stderr)")
        #expect(try await Subprocess.berth(["schedule", "list"], environment: env).stdout.contains("paused"))
        let resumed = try await Subprocess.berth(["schedule", "resume", "nightly-run"], environment: env)
        #expect(resumed.stdout.hasPrefix("nightly-run resumed: next run 20"), "\(resumed.stdout)\(resumed.stderr)")

        let bad = try await Subprocess.berth(["schedule", "create", "bad", "--cron", "99 * * * *", "--template", "nightly"], environment: env)
        #expect(bad.status == 1 && bad.stderr.contains("cron"), "\(bad.stderr)")
        let badParameter = try await Subprocess.berth(
            ["schedule", "create", "bad", "--cron", "@daily", "--template", "nightly", "-p", "steps=0"], environment: env)
        #expect(badParameter.status == 1 && badParameter.stderr.contains("parameters.steps"), "\(badParameter.stderr)")
        let taken = try await Subprocess.berth(["schedule", "create", "nightly-run", "--cron", "@daily", "--template", "nightly"], environment: env)
        #expect(taken.status == 1 && taken.stderr.contains("exists"), "\(taken.stderr)")

        let deleted = try await Subprocess.berth(["schedule", "delete", "nightly-run"], environment: env)
        #expect(deleted.status == 0 && deleted.stdout == "nightly-run deleted\n", "\(deleted.stdout)\(deleted.stderr)")
        let gone = try await Subprocess.berth(["schedule", "show", "nightly-run"], environment: env)
        #expect(gone.status == 1 && gone.stderr.contains("no schedule"), "\(gone.stderr)")
        #expect(try await served.stop() == 0)
    }

    @Test("berth serve makes the runs: an every-minute schedule's first run is submitted at the next minute and runs")
    func serveMakesTheRuns() async throws {
        let (served, env) = try await Self.serve("berth-schedule-runs", template: """
            name: tick
            spec:
              image: sim/tick:1
              env: {SIM_SECONDS: "0", SIM_LINES: "1"}
            """)
        let created = try await Subprocess.berth(["schedule", "create", "tick-every-minute", "--cron", "* * * * *", "--template", "tick"], environment: env)
        #expect(created.status == 0, "\(created.stdout)\(created.stderr)")
        // The wall clock: the first run comes due within a minute of now.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(90)
        var run: JSONValue?
        while run == nil, clock.now < deadline {
            try await Task.sleep(for: .seconds(1))
            let listed = try await Subprocess.berth(["ps", "--all", "--json"], environment: env)
            run = try JSONValue(parsing: listed.stdout).arrayValue?.first { $0["schedule"]?["name"] == "tick-every-minute" && $0["state"] == "succeeded" }
        }
        let made = try #require(run, "no run of the schedule succeeded within 90 s")
        #expect(made["template"] == ["name": "tick", "version": 1] && made["name"] == "tick-every-minute")
        let shown = try JSONValue(parsing: try await Subprocess.berth(["schedule", "show", "tick-every-minute", "--json"], environment: env).stdout)
        let record = shown["recent_runs"]?.arrayValue?.first { $0["execution_id"] == made["id"] }
        #expect(record?["outcome"] == "created" && record?["due_at"] == made["schedule"]?["due_at"], "\(shown)")
        #expect(try await served.stop() == 0)
    }
}
