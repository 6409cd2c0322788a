import ArgumentParser
import BerthClient
import BerthPluginKit
import Foundation

/// `berth show`: one execution in detail.
struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one execution.")

    @OptionGroup var client: ClientOptions

    @Argument(help: "The execution's id, or a unique prefix of it.")
    var id: String

    func run() async throws {
        let api = client.client()
        let execution = try await withClientErrors {
            try await api.get(try await IDs.resolve(id, with: api))
        }
        if client.json {
            Terminal.printJSON(execution.json)
            return
        }
        Terminal.line(Self.describe(execution))
    }

    /// `key: value` lines for the fields that are set.
    static func describe(_ execution: ExecutionView) -> String {
        let json = execution.json
        var rows: [(String, String)] = [("id", execution.id)]
        if let name = execution.name { rows.append(("name", name)) }
        rows.append(("image", execution.image))
        if let command = json["command"]?.arrayValue { rows.append(("command", command.compactMap(\.stringValue).joined(separator: " "))) }
        if let args = json["args"]?.arrayValue, !args.isEmpty { rows.append(("args", args.compactMap(\.stringValue).joined(separator: " "))) }
        var state = execution.state
        if let reason = execution.stateReason { state += " (\(reason))" }
        rows.append(("state", state))
        if let code = execution.exitCode { rows.append(("exit code", String(code))) }
        if let error = execution.error { rows.append(("error", "\(error.message) (\(error.code))")) }
        if let host = execution.targetHost { rows.append(("target host", host)) }
        if let host = execution.host { rows.append(("host", host)) }
        var attempts = String(execution.attempts)
        if let most = json["max_attempts"]?.int64Value, most > 1 {
            attempts += " of at most \(most)"
            if let codes = json["retry_on_exit_codes"]?.arrayValue, !codes.isEmpty {
                attempts += "; exit codes retried: " + codes.map(\.jsonText).joined(separator: ", ")
            }
        }
        rows.append(("attempts", attempts))
        if let time = json["not_before"]?.stringValue { rows.append(("next attempt", "not before \(time)")) }
        for (key, label) in [("created_at", "created"), ("started_at", "started"), ("finished_at", "finished")] {
            if let time = json[key]?.stringValue { rows.append((label, time)) }
        }
        if let start = execution.startedAt {
            let end = execution.finishedAt ?? Timestamp.now()
            rows.append(("duration", Terminal.duration(end.secondsSinceEpoch - start.secondsSinceEpoch)))
        }
        for (key, label) in [("env", "env"), ("labels", "labels")] {
            if let map = json[key]?.objectValue, !map.isEmpty {
                rows.append((label, map.keys.sorted().map { "\($0)=\(map[$0]?.stringValue ?? map[$0]!.jsonText)" }.joined(separator: " ")))
            }
        }
        for (key, label) in [("cpus", "cpus"), ("memory_mb", "memory (MiB)"), ("timeout_seconds", "timeout (s)"), ("priority", "priority")] {
            if let value = json[key], value != .null { rows.append((label, value.jsonText)) }
        }
        return Terminal.fields(rows)
    }
}
