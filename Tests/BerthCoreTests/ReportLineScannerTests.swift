@testable import BerthCore
import BerthPluginKit
import Testing

@Suite("Report lines on stdout")
struct ReportLineScannerTests {
    private func scan(_ parts: [String]) -> [ReportLineScanner.Finding] {
        var scanner = ReportLineScanner()
        return parts.flatMap { scanner.feed(Array($0.utf8)) } + scanner.finish()
    }

    @Test("finds progress and result lines among ordinary output, in order")
    func findsReports() {
        let findings = scan([
            "starting\n::berth::progress {\"step\": 1}\nwork\n", "::berth::result {\"answer\": 42, \"ok\": true}\n",
        ])
        #expect(findings == [.report(.progress, ["step": 1]), .report(.result, ["answer": 42, "ok": true])])
    }

    @Test("a report line split across chunks, byte by byte, is still one report")
    func splitLines() {
        let text = "x\n::berth::progress {\"pct\": 50.5, \"note\": \"half\"}\r\ny\n"
        #expect(scan(text.map { String($0) }) == [.report(.progress, ["pct": 50.5, "note": "half"])])
    }

    @Test("a last line without a newline counts; text around a prefix does not")
    func edges() {
        #expect(scan(["::berth::result {\"a\": 1}"]) == [.report(.result, ["a": 1])])
        #expect(scan([" ::berth::result {\"a\": 1}\n", "::berth::resultx {}\n", "::berth::progress{}\n", "echo ::berth::result {}\n"]).isEmpty)
    }

    @Test("malformed reports are reported as invalid, not kept", arguments: [
        ("::berth::progress not json\n", "not JSON"),
        ("::berth::result [1, 2]\n", "not a JSON object"),
        ("::berth::result {\"a\": \"x\\u0000y\"}\n", "NUL"),
        ("::berth::progress {\"a\": 1} trailing\n", "not JSON"),
    ])
    func invalid(line: String, reason: String) throws {
        let findings = scan([line])
        #expect(findings.count == 1)
        guard case .invalid(_, let why) = try #require(findings.first) else {
            Issue.record("expected an invalid finding, got \(findings)")
            return
        }
        #expect(why.contains(reason), "\(why)")
    }

    @Test("a report line longer than the limit is skipped, and the next line is read")
    func overlongLine() {
        let long = "::berth::progress {\"pad\": \"" + String(repeating: "p", count: ReportLineScanner.maxLineBytes) + "\"}\n"
        let findings = scan([String(long.prefix(1000)), String(long.dropFirst(1000)), "::berth::progress {\"step\": 2}\n"])
        #expect(findings == [.report(.progress, ["step": 2])])
    }
}
