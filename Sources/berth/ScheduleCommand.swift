import ArgumentParser
import BerthClient
import BerthPluginKit
import Foundation

/// `berth schedule create|list|show|pause|resume|delete`: templates run on a timetable
/// (docs/schedules.md).
struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule", abstract: "Create, list, show, pause, resume and delete schedules: templates run on a timetable.",
        subcommands: [Create.self, List.self, Show.self, Pause.self, Resume.self, Delete.self])

    /// `berth schedule create NAME --cron EXPR --template REF …`.
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a schedule that runs a template at the times of a cron expression; prints its next due time.",
            discussion: """
                The expression has five fields (minute hour day-of-month month day-of-week) or is one of @hourly, \
                @daily, @weekly, @monthly, @yearly; it is read in --time-zone (default UTC). A -p value is read as \
                JSON when it is JSON (3, true, [1,2], "text"), else as a string.
                """)

        @OptionGroup var client: ClientOptions

        @Argument(help: "The schedule's name (lowercase letters, digits, '.', '_', '-').")
        var name: String

        @Option(name: .long, help: ArgumentHelp("When runs come due, e.g. '0 3 * * *' or @hourly.", valueName: "expression"))
        var cron: String

        @Option(name: .long, help: ArgumentHelp("The template each run submits: name@version, or name for the newest at each run.", valueName: "ref"))
        var template: String

        @Option(name: .long, help: ArgumentHelp("The IANA time zone the expression is read in (default UTC).", valueName: "zone"))
        var timeZone: String?

        @OptionGroup var parameters: ParameterOptions

        @Option(name: .long, help: ArgumentHelp("While an earlier run is active: allow (default), forbid or replace.", valueName: "policy"))
        var concurrency: String?

        @Option(name: .long, help: ArgumentHelp("Runs missed while no server ran: none, latest (default) or all.", valueName: "setting"))
        var catchUp: String?

        @Option(name: .long, help: ArgumentHelp("A label of each run (repeatable).", valueName: "key=value"))
        var label: [String] = []

        @Option(name: .long, help: "The priority of each run (higher runs first).")
        var priority: Int?

        @Option(name: .long, help: ArgumentHelp("Run on this host.", valueName: "host"))
        var targetHost: String?

        @Option(name: .customLong("host-label"), help: ArgumentHelp("Run on a host with this label (repeatable).", valueName: "key=value"))
        var hostLabel: [String] = []

        @Flag(name: .long, help: "Create it paused (nothing comes due until `berth schedule resume`).")
        var paused = false

        func run() async throws {
            var body: [String: JSONValue] = [
                "name": .string(name), "cron": .string(cron), "template": .string(template), "parameters": try parameters.values(),
            ]
            if let timeZone { body["time_zone"] = .string(timeZone) }
            if let concurrency { body["concurrency_policy"] = .string(concurrency) }
            if let catchUp { body["catch_up"] = .string(catchUp) }
            if paused { body["paused"] = true }
            var run: [String: JSONValue] = [:]
            let labels = try SubmissionOptions.pairs(label, option: "--label")
            if !labels.isEmpty { run["labels"] = JSONValue(labels) }
            let selector = try SubmissionOptions.pairs(hostLabel, option: "--host-label")
            if !selector.isEmpty { run["host_selector"] = JSONValue(selector) }
            if let priority { run["priority"] = .number(Double(priority)) }
            if let targetHost { run["target_host"] = .string(targetHost) }
            if !run.isEmpty { body["run"] = .object(run) }
            let api = client.client()
            let created = try await withClientErrors { try await api.send("POST", "/v1/schedules", body: .object(body)) }
            if client.json {
                Terminal.printJSON(created)
            } else {
                Terminal.line("\(name): next run \(created["next_due_at"]?.stringValue ?? "none (paused)")")
            }
        }
    }

    /// `berth schedule list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the schedules, by name.")

        @OptionGroup var client: ClientOptions

        func run() async throws {
            let api = client.client()
            let answer = try await withClientErrors { try await api.send("GET", "/v1/schedules") }
            if client.json {
                Terminal.printJSON(answer)
                return
            }
            let rows = (answer["items"]?.arrayValue ?? []).map { schedule in
                [
                    schedule["name"]?.stringValue ?? "-", schedule["cron"]?.stringValue ?? "-", schedule["time_zone"]?.stringValue ?? "-",
                    schedule["template"]?.stringValue ?? "-", schedule["paused"] == true ? "paused" : "active",
                    schedule["next_due_at"]?.stringValue ?? "-", schedule["last_due_at"]?.stringValue ?? "-",
                    schedule["concurrency_policy"]?.stringValue ?? "-",
                ]
            }
            Terminal.line(Terminal.table(["SCHEDULE", "CRON", "TIME ZONE", "TEMPLATE", "STATE", "NEXT", "LAST", "CONCURRENCY"], rows))
        }
    }

    /// `berth schedule show NAME`.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one schedule and what became of its 20 latest due times.")

        @OptionGroup var client: ClientOptions

        @Argument(help: "The schedule's name.")
        var name: String

        func run() async throws {
            let api = client.client()
            let schedule = try await withClientErrors { try await api.send("GET", "/v1/schedules/" + BerthClient.escape(name)) }
            if client.json {
                Terminal.printJSON(schedule)
                return
            }
            Terminal.line(Terminal.fields([
                ("name", schedule["name"]?.stringValue ?? name),
                ("cron", "\(schedule["cron"]?.stringValue ?? "-") (\(schedule["time_zone"]?.stringValue ?? "UTC"))"),
                ("template", schedule["template"]?.stringValue ?? "-"),
                ("parameters", schedule["parameters"]?.jsonText ?? "{}"),
                ("state", schedule["paused"] == true ? "paused" : "active"),
                ("next run", schedule["next_due_at"]?.stringValue ?? "-"),
                ("concurrency", schedule["concurrency_policy"]?.stringValue ?? "-"),
                ("catch-up", schedule["catch_up"]?.stringValue ?? "-"),
                ("owner", schedule["owner"]?.stringValue ?? "-"),
            ]))
            let runs = (schedule["recent_runs"]?.arrayValue ?? []).map { run in
                [
                    run["due_at"]?.stringValue ?? "-", run["outcome"]?.stringValue ?? "-",
                    run["execution_id"]?.stringValue ?? "-", run["detail"]?.stringValue ?? "",
                ]
            }
            if !runs.isEmpty { Terminal.line("\n" + Terminal.table(["DUE", "OUTCOME", "EXECUTION", "DETAIL"], runs)) }
        }
    }

    /// `berth schedule pause NAME`.
    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause a schedule: nothing comes due until it is resumed.")

        @OptionGroup var client: ClientOptions

        @Argument(help: "The schedule's name.")
        var name: String

        func run() async throws {
            let answer = try await ScheduleCommand.change(name, "pause", client)
            if client.json { Terminal.printJSON(answer) } else { Terminal.line("\(name) paused") }
        }
    }

    /// `berth schedule resume NAME`.
    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a schedule from now on (the times that passed while paused are not made).")

        @OptionGroup var client: ClientOptions

        @Argument(help: "The schedule's name.")
        var name: String

        func run() async throws {
            let answer = try await ScheduleCommand.change(name, "resume", client)
            if client.json {
                Terminal.printJSON(answer)
            } else {
                Terminal.line("\(name) resumed: next run \(answer["next_due_at"]?.stringValue ?? "none")")
            }
        }
    }

    /// `berth schedule delete NAME`.
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a schedule and its run records; the executions it made stay.")

        @OptionGroup var client: ClientOptions

        @Argument(help: "The schedule's name.")
        var name: String

        func run() async throws {
            let api = client.client()
            _ = try await withClientErrors { try await api.send("DELETE", "/v1/schedules/" + BerthClient.escape(name)) }
            Terminal.line("\(name) deleted")
        }
    }

    /// `POST /v1/schedules/NAME/ACTION`.
    private static func change(_ name: String, _ action: String, _ client: ClientOptions) async throws -> JSONValue {
        let api = client.client()
        return try await withClientErrors { try await api.send("POST", "/v1/schedules/" + BerthClient.escape(name) + "/" + action) }
    }
}
