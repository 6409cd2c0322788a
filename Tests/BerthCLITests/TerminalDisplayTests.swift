@testable import berth
import BerthClient
import BerthPluginKit
import Testing

/// What the CLI draws on a terminal: progress read from `::berth::progress` objects, those
/// lines taken out of stdout as chunks arrive, the status line and the coloured tables.
@Suite("terminal display")
struct TerminalDisplayTests {
    @Test func progressKeys() {
        #expect(ProgressReport(["percent": 40]).fraction == 0.4)
        let loading = ProgressReport(["fraction": 0.25, "stage": "load"])
        #expect(loading.fraction == 0.25 && loading.count == nil && loading.label == "load")
        let epochs = ProgressReport(["step": 3, "of": 12, "message": "epoch"])
        #expect(epochs.fraction == 0.25 && epochs.count == "3/12" && epochs.label == "epoch")
        #expect(ProgressReport(["done": 5, "total": 0]).fraction == nil, "a total of 0 gives no fraction")
        #expect(ProgressReport(["percent": 250]).fraction == 1, "clamped")
        let other = ProgressReport(["loss": 0.3])
        #expect(other.fraction == nil && other.count == nil && other.label == nil)
    }

    @Test func filterTakesProgressLinesAcrossChunks() {
        var filter = ProgressLineFilter()
        var output: [UInt8] = []
        var reports: [JSONValue] = []
        for chunk in ["hello\n::berth::pro", "gress {\"percent\": 5", "0}\nworld", " wide\n::x\n", "a ::berth::progress {}\n", "::berth::progress not json\n"] {
            let (out, found) = filter.feed(Array(chunk.utf8))
            output += out
            reports += found
        }
        #expect(String(decoding: output, as: UTF8.self) == "hello\nworld wide\n::x\na ::berth::progress {}\n::berth::progress not json\n")
        #expect(reports == [["percent": 50]])
    }

    @Test func filterPassesPartialLinesAtOnceUnlessTheyMayBeProgress() {
        var filter = ProgressLineFilter()
        #expect(filter.feed(Array("Password: ".utf8)).output == Array("Password: ".utf8))
        #expect(filter.feed(Array("ok\n::ber".utf8)).output == Array("ok\n".utf8))
        #expect(filter.flush() == Array("::ber".utf8))
    }

    @Test func statusLineShowsStateHostTimeAndBar() throws {
        let execution = try ExecutionView([
            "id": "3f0c1a2b-0000-4000-8000-000000000000", "image": "busybox", "state": "running", "host": "local",
            "created_at": "2026-12-04T10:00:00Z", "started_at": "2026-12-04T10:00:05Z",
        ])
        let now = try #require(Timestamp(rfc3339: "2026-12-04T10:01:17Z"))
        let plain = LiveStatus.text(
            id: execution.id, execution: execution, progress: ProgressReport(["step": 40, "of": 100, "stage": "train"]),
            now: now, columns: 120, style: TerminalStyle(colours: false))
        #expect(plain == "running  3f0c1a2b on local · 1m12s  ████████░░░░░░░░░░░░ 40%  40/100 · train")
        let narrow = LiveStatus.text(id: execution.id, execution: execution, progress: nil, now: now, columns: 20, style: TerminalStyle(colours: false))
        #expect(narrow == "running  3f0c1a2b …" && narrow.count == 19)
        let coloured = LiveStatus.text(id: execution.id, execution: execution, progress: nil, now: now, columns: 120, style: TerminalStyle(colours: true))
        #expect(coloured.hasPrefix("\u{1B}[34mrunning\u{1B}[0m  3f0c1a2b"))
    }

    @Test func psColoursTheStateWithoutSkewingColumns() throws {
        let executions = try [
            ExecutionView(["id": "aaaaaaaa-1", "image": "busybox", "state": "failed", "exit_code": 3, "host": "h"]),
            ExecutionView(["id": "bbbbbbbb-2", "image": "busybox", "state": "succeeded", "exit_code": 0, "host": "h"]),
        ]
        let now = Timestamp.now()
        let plain = Ps.table(executions, now: now).split(separator: "\n")
        let coloured = Ps.table(executions, now: now, style: TerminalStyle(colours: true)).split(separator: "\n")
        #expect(!plain.joined().contains("\u{1B}"))
        #expect(coloured[1].contains("\u{1B}[31mfailed (3)   \u{1B}[0m"))
        #expect(coloured[2].contains("\u{1B}[32msucceeded (0)\u{1B}[0m"))
        let strip = { (line: Substring) in line.replacing("\u{1B}[31m", with: "").replacing("\u{1B}[32m", with: "").replacing("\u{1B}[0m", with: "") }
        #expect(coloured.map { String(strip($0)) } == plain.map(String.init))
    }

    @Test func coloursOnlyOnATerminalWithoutNoColour() {
        #expect(TerminalStyle(terminal: true, environment: ["TERM": "xterm"]).colours)
        #expect(!TerminalStyle(terminal: false, environment: ["TERM": "xterm"]).colours)
        #expect(!TerminalStyle(terminal: true, environment: ["NO_COLOR": "1"]).colours)
        #expect(TerminalStyle(terminal: true, environment: ["NO_COLOR": ""]).colours, "an empty NO_COLOR does not count (no-color.org)")
        #expect(!TerminalStyle(terminal: true, environment: ["TERM": "dumb"]).colours)
    }
}
