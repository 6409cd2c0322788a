import BerthClient
import BerthPluginKit
import Synchronization

/// The line at the bottom of the terminal while `berth run` or `berth logs -f` follows an
/// execution: its state, host and time so far, and a progress bar fed by its
/// `::berth::progress` lines.
///
/// Shown only when stderr is a terminal; it is written to stderr and redrawn in place, and
/// cleared before any output is written above it. When stdout is the terminal too, progress
/// lines feed the bar instead of being printed; redirected stdout gets every byte as written.
final class LiveStatus: Sendable {
    private struct Screen {
        var execution: ExecutionView?
        var progress: ProgressReport?
        var filter = ProgressLineFilter()
        /// Whether the status line is on the screen now.
        var lineShown = false
        /// Whether the terminal's cursor is at the start of a line (the status line is drawn
        /// only then, so it never splits a line the execution has not finished).
        var atLineStart = true
        var finished = false
    }

    private let screen = Mutex(Screen())
    private let style: TerminalStyle
    private let stdoutIsTerminal: Bool
    private let id: String
    private static let clear = Array("\r\u{1B}[2K".utf8)
    static let barWidth = 20

    private init(id: String, style: TerminalStyle, stdoutIsTerminal: Bool) {
        self.id = id
        self.style = style
        self.stdoutIsTerminal = stdoutIsTerminal
    }

    /// A status line for execution `id`, or nil when stderr is not a terminal.
    static func onTerminal(for id: String) -> LiveStatus? {
        guard TerminalStyle.isTerminal(2) else { return nil }
        return LiveStatus(id: id, style: .of(2), stdoutIsTerminal: TerminalStyle.isTerminal(1))
    }

    /// Writes one piece of the execution's output above the status line.
    func write(_ line: LogLine) {
        screen.withLock { screen in
            let bytes = Array(line.data.utf8)
            var shown = bytes
            let fd: Int32 = line.stream == .stderr ? 2 : 1
            if line.stream == .stdout {
                let (output, reports) = screen.filter.feed(bytes)
                if let last = reports.last { screen.progress = ProgressReport(last) }
                if stdoutIsTerminal { shown = output }
            }
            let onScreen = fd == 2 || stdoutIsTerminal
            if onScreen, screen.lineShown, !shown.isEmpty {
                Terminal.write(Self.clear, to: 2)
                screen.lineShown = false
            }
            Terminal.write(shown, to: fd)
            if onScreen, let last = shown.last { screen.atLineStart = last == UInt8(ascii: "\n") }
            draw(&screen)
        }
    }

    /// Writes `berth: <message>` to stderr above the status line.
    func note(_ message: String) {
        screen.withLock { screen in
            if screen.lineShown { Terminal.write(Self.clear, to: 2) }
            screen.lineShown = false
            if !screen.atLineStart { Terminal.write(Array("\n".utf8), to: 2) }
            screen.atLineStart = true
            Terminal.error(message)
            draw(&screen)
        }
    }

    /// Asks the server for the execution's state every second and shows it, until cancelled.
    func refreshing(from client: BerthClient) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                if let execution = try? await client.get(id) { update(execution) }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Shows the execution's latest state.
    func update(_ execution: ExecutionView) {
        screen.withLock { screen in
            screen.execution = execution
            draw(&screen)
        }
    }

    /// Removes the status line for good (and writes a progress line that never got its newline).
    func finish() {
        screen.withLock { screen in
            if screen.lineShown { Terminal.write(Self.clear, to: 2) }
            screen.lineShown = false
            screen.finished = true
            let held = screen.filter.flush()
            if stdoutIsTerminal { Terminal.write(held, to: 1) }
        }
    }

    private func draw(_ screen: inout Screen) {
        guard !screen.finished, screen.atLineStart else { return }
        let text = Self.text(
            id: id, execution: screen.execution, progress: screen.progress, now: Timestamp.now(),
            columns: TerminalStyle.columns(2), style: style)
        Terminal.write(Self.clear + Array(text.utf8), to: 2)
        screen.lineShown = true
    }

    /// The status line: `running  3f0c1a2b on local · 1m12s  [████░░░░] 40%  40/100 · loading`,
    /// cut to fit in `columns - 1` (so the terminal never wraps it).
    static func text(
        id: String, execution: ExecutionView?, progress: ProgressReport?, now: Timestamp, columns: Int, style: TerminalStyle
    ) -> String {
        let state = execution?.state ?? "submitted"
        var rest = "  \(id.prefix(8))"
        if let host = execution?.host ?? execution?.targetHost { rest += " on \(host)" }
        if let execution {
            let since = execution.startedAt ?? execution.createdAt
            if let since { rest += " · " + Terminal.duration(now.secondsSinceEpoch - since.secondsSinceEpoch) }
        }
        if let progress {
            if let fraction = progress.fraction {
                let filled = Int((fraction * Double(barWidth)).rounded(.down))
                let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: barWidth - filled)
                rest += "  \(bar) \(Int((fraction * 100).rounded(.down)))%"
            }
            let words = [progress.count, progress.label].compactMap { $0 }
            if !words.isEmpty { rest += "  " + words.joined(separator: " · ") }
        }
        let room = max(0, columns - 1 - state.count)
        if rest.count > room { rest = String(rest.prefix(max(0, room - 1))) + "…" }
        return style.paint(state, TerminalStyle.colour(ofState: state)) + rest
    }
}
