import BerthCore
import BerthPluginKit
import BerthPostgres
@testable import BerthServer
import HTTPTypes
import BerthTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing

extension ServerTests {
    static let ndjson: HTTPFields = [.accept: "application/x-ndjson"]

    @Test("tail=N gives the last N lines, across and inside chunks, with the filters; with follow, then new output")
    func logsTail() async throws {
        try await ServerHarness.run { h in
            let id = try h.id(of: try await h.submit(["image": "x"]))
            let path = "/v1/executions/\(id.uuidString.lowercased())/logs"
            let t0 = Date(timeIntervalSince1970: 1_800_000_000)
            // Lines spread over chunks in odd ways; 1200 more chunks make the tail cross pages.
            var chunks = [
                NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("l1\nl".utf8), timestamp: t0),
                NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("2\n".utf8), timestamp: t0),
                NewLogChunk(executionID: id, attempt: 1, stream: .stderr, bytes: Array("e1\n".utf8), timestamp: t0),
                NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("l3\nl4\n".utf8), timestamp: t0),
            ]
            #expect(try await h.request(.get, path + "?tail=0").text == "")
            try await h.store.appendLogs(chunks)
            #expect(try await h.request(.get, path + "?tail=1").text == "l4\n")
            #expect(try await h.request(.get, path + "?tail=2&stream=stdout").text == "l3\nl4\n")
            #expect(try await h.request(.get, path + "?tail=3").text == "e1\nl3\nl4\n")
            #expect(try await h.request(.get, path + "?tail=3&stream=stdout").text == "l2\nl3\nl4\n")
            #expect(try await h.request(.get, path + "?tail=4&stream=stdout").text == "l1\nl2\nl3\nl4\n")
            #expect(try await h.request(.get, path + "?tail=100").text == "l1\nl2\ne1\nl3\nl4\n")
            #expect(try await h.request(.get, path + "?tail=1&stream=stderr").text == "e1\n")
            chunks = (1...1200).map { NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("n\($0)\n".utf8), timestamp: t0) }
            chunks.append(NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("partial".utf8), timestamp: t0))
            try await h.store.appendLogs(chunks)
            // A last line without a newline counts as a line.
            #expect(try await h.request(.get, path + "?tail=2").text == "n1200\npartial")
            let many = try await h.request(.get, path + "?tail=1202").text
            #expect(many.hasPrefix("l4\nn1\n") && many.hasSuffix("n1200\npartial"))
            let ndjson = try await h.request(.get, path + "?tail=1", headers: Self.ndjson).text
            #expect(try JSONValue(parsing: ndjson.trimmingCharacters(in: .newlines))["data"] == "partial")
            try h.expectProblem(try await h.request(.get, path + "?tail=-1"), status: .unprocessableContent, code: "out_of_range", field: "tail")
            try h.expectProblem(try await h.request(.get, path + "?tail=100001"), status: .unprocessableContent, code: "out_of_range", field: "tail")

            // tail with follow: the last line, then what comes next, and nothing twice.
            let follower = Task { try await h.request(.get, path + "?tail=1&follow=true").text }
            try await Task.sleep(for: .milliseconds(300))
            try await h.store.appendLogs([NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("\nlive\n".utf8), timestamp: t0)])
            try await Task.sleep(for: .milliseconds(300))
            _ = try await h.store.transition(id, from: .queued, to: .cancelled, reason: "test")
            #expect(try await follower.value == "partial\nlive\n")
        }
    }

    @Test func logsPlainAndNDJSONWithFilters() async throws {
        try await ServerHarness.run { h in
            let id = try h.id(of: try await h.submit(["image": "x"]))
            let path = "/v1/executions/\(id.uuidString.lowercased())/logs"
            let t0 = Date(timeIntervalSince1970: 1_800_000_000)
            try await h.store.appendLogs([
                NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("one\n".utf8), timestamp: t0),
                NewLogChunk(executionID: id, attempt: 1, stream: .stderr, bytes: Array("oops\n".utf8), timestamp: t0.addingTimeInterval(1)),
                NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("two\n".utf8), timestamp: t0.addingTimeInterval(2)),
            ])
            let plain = try await h.request(.get, path)
            #expect(plain.status == .ok)
            #expect(plain.headers[.contentType] == "text/plain; charset=utf-8")
            #expect(plain.text == "one\noops\ntwo\n")

            #expect(try await h.request(.get, path + "?stream=stdout").text == "one\ntwo\n")
            #expect(try await h.request(.get, path + "?stream=stderr").text == "oops\n")
            #expect(try await h.request(.get, path + "?since=2027-01-15T08:00:01Z").text == "oops\ntwo\n")
            #expect(try await h.request(.get, path + "?since=2027-01-15T09:00:01%2B01:00&stream=stdout").text == "two\n")

            let lines = try await h.request(.get, path, headers: Self.ndjson)
            #expect(lines.headers[.contentType] == "application/x-ndjson")
            let objects = try lines.text.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
            #expect(objects.count == 3)
            #expect(objects[0]["stream"] == "stdout")
            #expect(objects[0]["data"] == "one\n")
            #expect(objects[0]["seq"] == 1)
            #expect(objects[0]["timestamp"] == "2027-01-15T08:00:00Z")
            #expect(objects[1]["stream"] == "stderr")
            #expect(objects[1]["seq"] == 2)
            #expect(objects[2]["timestamp"] == "2027-01-15T08:00:02Z")
            let stderrOnly = try await h.request(.get, path + "?stream=stderr", headers: Self.ndjson)
            #expect(stderrOnly.text.split(separator: "\n").count == 1)

            try h.expectProblem(try await h.request(.get, path + "?stream=stdin"), status: .unprocessableContent, code: "invalid_field", field: "stream")
            try h.expectProblem(try await h.request(.get, path + "?since=yesterday"), status: .unprocessableContent, code: "invalid_field", field: "since")
            // A bound far outside what Berth holds is clamped, not a crash (found by schemathesis):
            // long ago means everything, far ahead nothing.
            #expect(try await h.request(.get, path + "?since=0500-12-26T14%3A24%3A11%2B02%3A01").text == "one\noops\ntwo\n")
            #expect(try await h.request(.get, path + "?since=9999-12-31T23%3A59%3A59Z").text == "")
            try h.expectProblem(try await h.request(.get, path + "?follow=maybe"), status: .unprocessableContent, code: "invalid_field", field: "follow")
            // follow on a terminal execution returns at once.
            _ = try await h.store.transition(id, from: .queued, to: .cancelled, reason: "test")
            #expect(try await h.request(.get, path + "?follow=true").text == "one\noops\ntwo\n")
        }
    }

    @Test func followStreamsNewChunksUntilTheExecutionEnds() async throws {
        try await ServerHarness.run { h in
            let id = try h.id(of: try await h.submit(["image": "x"]))
            let path = "/v1/executions/\(id.uuidString.lowercased())/logs?follow=true"
            try await h.store.appendLogs([NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("before\n".utf8))])
            let finished = Mutex<ContinuousClock.Instant?>(nil)
            let follower = Task {
                let response = try await h.request(.get, path, headers: Self.ndjson)
                finished.withLock { $0 = .now }
                return response
            }
            try await Task.sleep(for: .milliseconds(300))
            try await h.store.appendLogs([NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("during-1\n".utf8))])
            _ = try await h.store.transition(id, from: .queued, to: .scheduled, reason: "test", changes: TransitionChanges(host: "sim", attempt: 1))
            try await Task.sleep(for: .milliseconds(300))
            try await h.store.appendLogs([NewLogChunk(executionID: id, attempt: 1, stream: .stderr, bytes: Array("during-2\n".utf8))])
            try await Task.sleep(for: .milliseconds(500))
            // Neither new output nor a non-terminal change ends the stream.
            #expect(finished.withLock { $0 } == nil)

            _ = try await h.store.transition(id, from: .scheduled, to: .starting, reason: "test")
            _ = try await h.store.transition(id, from: .starting, to: .running, reason: "test")
            try await h.store.appendLogs([NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("last\n".utf8))])
            let ended = ContinuousClock.now
            _ = try await h.store.transition(id, from: .running, to: .succeeded, reason: "test", changes: TransitionChanges(exitCode: 0))
            let response = try await follower.value
            let end = try #require(finished.withLock { $0 })
            #expect(end - ended < .seconds(15))  // it ends with the execution (loose: two shared cores)
            #expect(response.status == .ok)
            let data = try response.text.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
            #expect(data.compactMap { $0["data"]?.stringValue } == ["before\n", "during-1\n", "during-2\n", "last\n"])
            #expect(data.compactMap { $0["seq"]?.int64Value } == [1, 2, 3, 4])
        }
    }

    @Test("Accept: text/event-stream: one `log` event per chunk with its seq as id, `end` once complete; Last-Event-ID resumes after it")
    func logsAsServerSentEvents() async throws {
        try await ServerHarness.run { h in
            let id = try h.id(of: try await h.submit(["image": "x"]))
            let path = "/v1/executions/\(id.uuidString.lowercased())/logs?follow=true"
            let sse: HTTPFields = [.accept: "text/event-stream"]
            try await h.store.appendLogs([
                NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("one\n".utf8)),
                NewLogChunk(executionID: id, attempt: 1, stream: .stderr, bytes: Array("two\n".utf8)),
            ])
            let follower = Task { try await h.request(.get, path, headers: sse) }
            try await Task.sleep(for: .milliseconds(300))
            try await h.store.appendLogs([NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("three\n".utf8))])
            _ = try await h.store.transition(id, from: .queued, to: .cancelled, reason: "test")
            let response = try await follower.value
            #expect(response.headers[.contentType] == "text/event-stream")
            let events = response.text.split(separator: "\n\n").map { String($0) }
            #expect(events.count == 4, "\(response.text)")
            let logs = events.filter { $0.contains("event: log") }
            #expect(logs.map { $0.split(separator: "\n").first } == ["id: 1", "id: 2", "id: 3"])
            let data = try logs.map { event in
                try JSONValue(parsing: String(try #require(event.split(separator: "\n").last?.dropFirst("data: ".count))))
            }
            #expect(data.map { $0["data"] } == ["one\n", "two\n", "three\n"])
            #expect(data.map { $0["stream"] } == ["stdout", "stderr", "stdout"])
            #expect(events.last == "event: end\ndata: {}")

            // A reconnecting browser sends the last id it saw and gets what came after it.
            var resume = sse
            resume[EventStreamResponder.lastEventID] = "2"
            let resumed = try await h.request(.get, path, headers: resume).text
            #expect(resumed.split(separator: "\n\n").map(String.init) == ["id: 3\nevent: log\ndata: " + data[2].jsonText, "event: end\ndata: {}"])
            resume[EventStreamResponder.lastEventID] = "x"
            try h.expectProblem(try await h.request(.get, path, headers: resume), status: .unprocessableContent, code: "out_of_range", field: "Last-Event-ID")
        }
    }

    @Test("a follow subscribed after its execution's last notification still ends, with all the output", .timeLimit(.minutes(5)))
    func followSubscribedAfterTheEnd() async throws {
        try await ServerHarness.run { h in
            // The race: the follow read the state (running) and the first page, then the execution
            // wrote its output and ended, then the follow subscribed. No notification will come.
            let id = try h.id(of: try await h.submit(["image": "x"]))
            let query = LogQuery(executionID: id, limit: LogResponder.pageSize)
            try await h.store.appendLogs([NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("first\n".utf8))])
            let firstSeq = try await h.store.logs(query).last?.seq
            try await h.store.appendLogs([NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("last\n".utf8))])
            _ = try await h.store.transition(id, from: .queued, to: .cancelled, reason: "test")
            let silent = AsyncStream<StoreNotification> { _ in }
            let collected = CollectingBodyWriter()
            var writer: any ResponseBodyWriter = collected
            try await LogResponder.follow(h.store, query, after: firstSeq, notifications: silent, .text, &writer)
            #expect(collected.text == "last\n")
        }
    }

    @Test("a follow of an execution that never ends does not hold up the server's shutdown", .timeLimit(.minutes(3)))
    func followEndsAtShutdown() async throws {
        let bodyEnded = Mutex<ContinuousClock.Instant?>(nil)
        try await ServerHarness.run(configuration: ServerConfiguration(port: 0), setup: .live) { h in
            defer { bodyEnded.withLock { $0 = ContinuousClock.now } }
            let id = try h.id(of: try await h.submit(["image": "x"]))
            let port = try #require(h.client.port)
            let token = h.adminToken
            // A raw client: it reads until the server closes the stream, or for 150 s. A server
            // that waited for the follow to end would take that long to shut down.
            _ = Task {
                try await RawConnection.exchange(
                    port, Array("GET /v1/executions/\(id.uuidString)/logs?follow=true HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n\r\n".utf8),
                    timeout: 150)
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        let shutdown = ContinuousClock.now - (bodyEnded.withLock { $0 } ?? ContinuousClock.now)
        // The whole teardown (server, plugins, test database) is seconds when idle; the bound is
        // far above what a loaded 2-core machine adds, and far below the client's 150 s.
        #expect(shutdown < .seconds(60), "shut down in \(shutdown)")
    }

    @Test func followPlainTextEndsOnCancel() async throws {
        try await ServerHarness.run { h in
            let id = try h.id(of: try await h.submit(["image": "x"]))
            let idText = id.uuidString.lowercased()
            let follower = Task { try await h.request(.get, "/v1/executions/\(idText)/logs?follow=true&stream=stdout") }
            try await Task.sleep(for: .milliseconds(300))
            try await h.store.appendLogs([
                NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("out\n".utf8)),
                NewLogChunk(executionID: id, attempt: 1, stream: .stderr, bytes: Array("err\n".utf8)),
            ])
            try await Task.sleep(for: .milliseconds(200))
            let cancelled = ContinuousClock.now
            #expect(try await h.request(.post, "/v1/executions/\(idText)/cancel").status == .ok)
            let response = try await follower.value
            // It ends because of the cancel (a follow of a live execution never ends on its own);
            // the bound is loose: CI's loaded machine once took 2.1 s.
            #expect(ContinuousClock.now - cancelled < .seconds(60))
            #expect(response.text == "out\n")
        }
    }
}

/// A response body writer that keeps what it is given.
final class CollectingBodyWriter: ResponseBodyWriter, Sendable {
    private let buffer = Mutex(ByteBuffer())

    /// What was written so far, as UTF-8.
    var text: String { buffer.withLock { String(buffer: $0) } }

    func write(_ buffer: ByteBuffer) async throws {
        self.buffer.withLock { $0.writeImmutableBuffer(buffer) }
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
