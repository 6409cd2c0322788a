import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Whether and how the CLI decorates what it writes: colours and the live status line appear
/// only on a terminal, and colours not at all when `NO_COLOR` is set (no-color.org) or
/// `TERM=dumb`. Piped or redirected output stays exactly what the execution wrote.
struct TerminalStyle: Sendable {
    /// Whether escape sequences for colour may be written.
    var colours: Bool

    /// The style for file descriptor `fd` in this process's environment.
    static func of(_ fd: Int32) -> TerminalStyle {
        TerminalStyle(terminal: isTerminal(fd), environment: ProcessInfo.processInfo.environment)
    }

    /// The style for a terminal (or not) in `environment`.
    init(terminal: Bool, environment: [String: String]) {
        let noColour = !(environment["NO_COLOR"] ?? "").isEmpty || environment["TERM"] == "dumb"
        colours = terminal && !noColour
    }

    /// A style with or without colours.
    init(colours: Bool) {
        self.colours = colours
    }

    /// Whether `fd` is a terminal.
    static func isTerminal(_ fd: Int32) -> Bool { isatty(fd) == 1 }

    /// The terminal's width in columns (80 when it does not say).
    static func columns(_ fd: Int32) -> Int {
        var size = winsize()
        guard ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    /// The SGR colours the CLI uses.
    enum Colour: String, Sendable {
        case green = "32", yellow = "33", red = "31", blue = "34", dim = "2", bold = "1"
    }

    /// `text` in `colour`, or as it is when colours are off.
    func paint(_ text: String, _ colour: Colour?) -> String {
        guard colours, let colour else { return text }
        return "\u{1B}[\(colour.rawValue)m\(text)\u{1B}[0m"
    }

    /// The colour of an execution state: green for success and running, yellow while it waits,
    /// red for failures, dim for cancelled.
    static func colour(ofState state: String) -> Colour? {
        switch state {
        case "succeeded": .green
        case "running": .blue
        case "queued", "scheduled", "starting": .yellow
        case "failed", "timed_out", "lost": .red
        case "cancelled": .dim
        default: nil
        }
    }
}
