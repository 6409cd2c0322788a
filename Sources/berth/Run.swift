import ArgumentParser
import BerthClient
import BerthPluginKit
import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `berth run`: submit, follow the output, exit with the execution's exit code.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an execution: submit it, follow its output and exit with its exit code.",
        discussion: """
            The container's stdout and stderr go to berth's stdout and stderr. Exit status: the \
            container's exit code; 125 when it failed without one (it never started, or was lost); \
            124 when it timed out; 130 when it was cancelled (the first Ctrl-C cancels it); 69 when \
            the server cannot be reached; 1 when the server refused the request.
            """)

    @OptionGroup var client: ClientOptions
    @OptionGroup var submission: SubmissionOptions

    @Flag(name: [.short, .long], help: "Print the id and return at once instead of following the output.")
    var detach = false

    func run() async throws {
        let body = try submission.body()
        let api = client.client()
        let execution = try await withClientErrors {
            try await api.submit(body, idempotencyKey: submission.idempotencyKey)
        }
        if detach {
            if client.json { Terminal.printJSON(execution.json) } else { Terminal.line(execution.id) }
            return
        }
        try await Self.followToTheEnd(execution.id, client: api, json: client.json)
    }

    /// Follows a submitted execution's output (with the status line on a terminal; the first
    /// interrupt cancels it) and exits as the execution did (docs/cli.md, `berth run`).
    static func followToTheEnd(_ id: String, client api: BerthClient, json: Bool) async throws {
        let status = json ? nil : LiveStatus.onTerminal(for: id)
        let interrupts = CancelOnInterrupt(client: api, id: id, status: status)
        defer { interrupts.stop() }
        let refreshing = status?.refreshing(from: api)
        let final: ExecutionView
        do {
            defer {
                refreshing?.cancel()
                status?.finish()
            }
            final = try await withClientErrors {
                try await Self.follow(id, client: api, status: status)
            }
        }
        if json { Terminal.printJSON(final.json) }
        let code = Self.exitCode(for: final)
        if let message = Self.explanation(for: final) {
            Terminal.error(message)
        } else if status != nil {
            Terminal.error(Self.summary(of: final, style: .of(2)))
        }
        if code != 0 { throw ExitCode(code) }
    }

    /// `succeeded 3f0c1a2b in 12s`: the last line on a terminal after a successful run.
    static func summary(of execution: ExecutionView, style: TerminalStyle) -> String {
        var text = style.paint(execution.state, TerminalStyle.colour(ofState: execution.state)) + " \(execution.id.prefix(8))"
        if let start = execution.startedAt, let end = execution.finishedAt {
            text += " in " + Terminal.duration(end.secondsSinceEpoch - start.secondsSinceEpoch)
        }
        return text
    }

    /// Copies the output to stdout and stderr until the execution has ended and all of its
    /// output was written. Should the server end the stream early, it follows again from the
    /// last line's time, skipping lines already written. With a status line, the output goes
    /// through it (``LiveStatus/write(_:)``).
    static func follow(_ id: String, client: BerthClient, status: LiveStatus?) async throws -> ExecutionView {
        var last: (attempt: Int64, seq: Int64)?
        var since: String?
        var delay = 0.05
        while true {
            for try await line in client.logs(id, follow: true, since: since) {
                if let seq = line.seq {
                    let position = (line.json["attempt"]?.int64Value ?? 0, seq)
                    if let last, position <= last { continue }
                    last = position
                }
                if let time = line.json["timestamp"]?.stringValue { since = time }
                if let status {
                    status.write(line)
                } else {
                    Terminal.write(Array(line.data.utf8), to: line.stream == .stderr ? 2 : 1)
                }
            }
            let execution = try await client.get(id)
            status?.update(execution)
            if execution.isTerminal { return execution }
            try await Task.sleep(for: .seconds(delay))
            delay = min(delay * 2, 1)
        }
    }

    /// The process exit code for a finished execution (docs/cli.md).
    static func exitCode(for execution: ExecutionView) -> Int32 {
        switch execution.state {
        case "succeeded": return 0
        case "failed":
            if let code = execution.exitCode {
                // The OS keeps the low 8 bits; never report a failure as 0.
                let status = Int32(truncatingIfNeeded: code & 0xFF)
                return status == 0 ? 1 : status
            }
            return ExitCodes.notStarted.rawValue
        case "timed_out": return ExitCodes.timedOut.rawValue
        case "cancelled": return ExitCodes.cancelled.rawValue
        default: return ExitCodes.notStarted.rawValue
        }
    }

    /// The line printed on stderr for an execution that did not end by itself, if any.
    static func explanation(for execution: ExecutionView) -> String? {
        switch execution.state {
        case "succeeded": return nil
        case "failed":
            if execution.exitCode != nil { return nil }
            if let error = execution.error { return "execution \(execution.id) failed: \(error.message) (\(error.code))" }
            return "execution \(execution.id) failed" + (execution.stateReason.map { ": \($0)" } ?? "")
        default:
            let reason = execution.stateReason ?? execution.error?.message
            return "execution \(execution.id) \(execution.state.replacingOccurrences(of: "_", with: " "))" + (reason.map { ": \($0)" } ?? "")
        }
    }
}

/// While alive, the first SIGINT or SIGTERM asks the server to cancel the execution; the
/// second ends berth at once (the execution keeps its state on the server).
final class CancelOnInterrupt {
    private let sources: [any DispatchSourceSignal]

    init(client: BerthClient, id: String, status: LiveStatus?) {
        let queue = DispatchQueue(label: "berth.signals")
        let state = SignalCount()
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                if state.increment() > 1 { exit(ExitCodes.cancelled.rawValue) }
                let message = "cancelling \(id) (interrupt again to stop waiting)"
                if let status { status.note(message) } else { Terminal.error(message) }
                Task { _ = try? await client.cancel(id) }
            }
            source.resume()
            return source
        }
    }

    func stop() {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

private final class SignalCount: Sendable {
    private let count = Atomic<Int>(0)

    /// Counts one signal and returns how many there were.
    func increment() -> Int {
        count.add(1, ordering: .relaxed).newValue
    }
}
