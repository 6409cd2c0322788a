import BerthCore
import BerthPluginKit
import Logging
import Synchronization
import Testing

@Suite("JSON lines logs (log.format: json)")
struct JSONLinesLogHandlerTests {
    /// The lines a handler wrote.
    private final class Lines: Sendable {
        let written = Mutex<[[UInt8]]>([])
        func withLock<T>(_ body: (inout [[UInt8]]) -> T) -> T { written.withLock { body(&$0) } }
    }

    /// A logger whose handler writes into the returned lines.
    private func logger(level: Logger.Level = .info) -> (Logger, Lines) {
        let lines = Lines()
        var handler = JSONLinesLogHandler(label: "berth.test") { line in lines.withLock { $0.append(line) } }
        handler.logLevel = level
        handler[metadataKey: "server"] = "s1"
        return (Logger(label: "berth.test") { _ in handler }, lines)
    }

    @Test("one JSON object per line: time, level, label, message, source, and each metadata key as a field")
    func fields() throws {
        let (logger, lines) = logger()
        var scoped = logger
        scoped[metadataKey: "execution"] = "1d8f"
        scoped.notice("state changed", metadata: ["to": "running", "message": "clash", "sizes": ["1", "2"], "error": .dictionary(["code": "x"])])
        let written = lines.withLock { $0 }
        #expect(written.count == 1)
        let line = try #require(written.first)
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(!line.dropLast().contains(UInt8(ascii: "\n")))
        let object = try JSONValue(parsing: Array(line.dropLast()))
        #expect(object["level"] == "notice")
        #expect(object["label"] == "berth.test")
        #expect(object["message"] == "state changed")
        #expect(object["execution"] == "1d8f")
        #expect(object["server"] == "s1")
        #expect(object["to"] == "running")
        #expect(object["metadata.message"] == "clash")
        #expect(object["sizes"] == ["1", "2"])
        #expect(object["error"]?["code"] == "x")
        let time = try #require(object["time"]?.stringValue)
        #expect(Timestamp(rfc3339: time) != nil)
    }

    @Test("below the level nothing is written; a message with a newline stays on one line")
    func levelAndNewlines() throws {
        let (logger, lines) = logger(level: .warning)
        logger.info("quiet")
        logger.warning("two\nlines")
        let written = lines.withLock { $0 }
        #expect(written.count == 1)
        #expect(try JSONValue(parsing: Array(written[0].dropLast()))["message"] == "two\nlines")
    }
}
