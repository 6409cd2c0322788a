import ArgumentParser
import BerthClient
import BerthPluginKit

/// `berth ps`: list executions.
struct Ps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List executions, newest first (by default only those not yet finished).")

    @OptionGroup var client: ClientOptions

    @Option(name: .long, help: "Only this state (repeatable): queued, scheduled, starting, running, succeeded, failed, timed_out, cancelled, lost.")
    var state: [String] = []

    @Option(name: .long, help: "Only executions on this host.")
    var host: String?

    @Flag(name: [.short, .long], help: "Include finished executions.")
    var all = false

    @Option(name: [.customShort("n"), .long], help: "At most this many (1 to 500; default: the server's page size, 50).")
    var limit: Int?

    static let activeStates = ["queued", "scheduled", "starting", "running"]
    static let allStates = activeStates + ["succeeded", "failed", "timed_out", "cancelled", "lost"]

    func validate() throws {
        for state in state where !Self.allStates.contains(state) {
            throw ValidationError("unknown state '\(state)' (one of \(Self.allStates.joined(separator: ", ")))")
        }
        if !state.isEmpty && all { throw ValidationError("--all and --state cannot be used together") }
        if let limit, !(1...500).contains(limit) { throw ValidationError("--limit must be from 1 to 500") }
    }

    /// The states asked for.
    var states: [String] {
        if !state.isEmpty { return state }
        return all ? [] : Self.activeStates
    }

    func run() async throws {
        let api = client.client()
        let page = try await withClientErrors {
            try await api.list(BerthClient.ListFilter(states: states, host: host, limit: limit))
        }
        if client.json {
            Terminal.printJSON(.array(page.executions.map(\.json)))
            return
        }
        Terminal.line(Self.table(page.executions, now: Timestamp.now(), style: .of(1)))
    }

    /// The text table: ID, NAME, IMAGE, STATE, HOST, AGE, DURATION; the state in its colour
    /// when `style` has colours.
    static func table(_ executions: [ExecutionView], now: Timestamp, style: TerminalStyle = TerminalStyle(colours: false)) -> String {
        let rows = executions.map { execution -> [String] in
            var state = execution.state
            if let code = execution.exitCode, execution.isTerminal { state += " (\(code))" }
            let age = execution.createdAt.map { Terminal.duration(now.secondsSinceEpoch - $0.secondsSinceEpoch) } ?? "-"
            let duration = execution.startedAt.map { start in
                Terminal.duration((execution.finishedAt ?? now).secondsSinceEpoch - start.secondsSinceEpoch)
            } ?? "-"
            return [
                String(execution.id.prefix(8)), execution.name ?? "-", execution.image, state,
                execution.host ?? execution.targetHost ?? "-", age, duration,
            ]
        }
        let stateColumn = 3
        return Terminal.table(["ID", "NAME", "IMAGE", "STATE", "HOST", "AGE", "DURATION"], rows) { column, cell, padded in
            guard column == stateColumn else { return padded }
            let state = String(cell.prefix { $0 != " " })
            return style.paint(padded, TerminalStyle.colour(ofState: state))
        }
    }
}
