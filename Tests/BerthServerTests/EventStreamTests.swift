import BerthCore
import BerthPluginKit
import BerthPostgres
@testable import BerthServer
import BerthTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `GET /v1/events` over a live server, read as a browser's EventSource would.
@Suite("Server-sent events of state changes", .postgresServer)
struct EventStreamTests {
    /// An open event stream on a raw connection.
    struct Stream: Sendable {
        let fd: Int32
        /// What arrived with the response head (events may come in the same read).
        var initial = ""

        /// Opens `path` with `token` (and extra header lines) and waits for the stream's first comment.
        static func open(_ port: Int, _ path: String, token: String, headers: String = "") async throws -> Stream {
            let fd = try await RawConnection.blocking { () throws -> Int32 in
                let fd = try RawConnection.connect(port)
                let request = "GET \(path) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n\(headers)\r\n"
                _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                return fd
            }
            var stream = Stream(fd: fd)
            let head = try await stream.read { $0.contains(": berth events after") }
            #expect(head.hasPrefix("HTTP/1.1 200"), "\(head)")
            #expect(head.lowercased().contains("content-type: text/event-stream"))
            stream.initial = head
            return stream
        }

        /// Reads until `done` holds for everything read so far, what came with the head
        /// included (or 60 s pass); returns it all.
        func read(until done: @escaping @Sendable (String) -> Bool) async throws -> String {
            let (fd, initial) = (self.fd, self.initial)
            return try await RawConnection.blocking {
                var text = initial
                var buffer = [UInt8](repeating: 0, count: 65_536)
                let deadline = Date().addingTimeInterval(60)
                while !done(text), Date() < deadline {
                    var probe = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    guard poll(&probe, 1, 200) > 0 else { continue }
                    let count = recv(fd, &buffer, buffer.count, 0)
                    guard count > 0 else { break }
                    text += String(decoding: buffer[0..<count], as: UTF8.self)
                }
                return text
            }
        }

        func close() { _ = Glibc.close(fd) }
    }

    /// The events in a stream's text: (id, execution, to_state), in order.
    static func events(in text: String) throws -> [(id: Int64, execution: String, to: String)] {
        try text.components(separatedBy: "\n\n").compactMap { block in
            let lines = block.split(whereSeparator: \.isNewline).map(String.init)  // chunk sizes end in \r\n
            guard let id = lines.first(where: { $0.hasPrefix("id: ") }).flatMap({ Int64($0.dropFirst(4)) }),
                  let data = lines.first(where: { $0.hasPrefix("data: ") })
            else { return nil }
            #expect(lines.contains("event: transition"))
            let event = try JSONValue(parsing: String(data.dropFirst(6)))
            #expect(event["seq"] == .number(Double(id)))
            return (id, event["execution_id"]?.stringValue ?? "", event["to_state"]?.stringValue ?? "")
        }
    }

    @Test("every transition, in order, with filters; a submitter sees its own; after and Last-Event-ID resume", .timeLimit(.minutes(5)))
    func stream() async throws {
        let bodyEnded = Mutex<ContinuousClock.Instant?>(nil)
        // The clients keep their connections open until the server has shut down: a stream that
        // did not end at shutdown would hold it up for good (its keep-alives still reach a client).
        let clients = Mutex<[Stream]>([])
        defer {
            let shutdown = ContinuousClock.now - (bodyEnded.withLock { $0 } ?? ContinuousClock.now)
            // Seconds when idle; the bound leaves room for a loaded machine.
            #expect(shutdown < .seconds(60), "the server shut down with streams open in \(shutdown)")
            clients.withLock { $0.forEach { $0.close() } }
        }
        try await ServerHarness.run(configuration: ServerConfiguration(port: 0), setup: .live) { h in
            defer { bodyEnded.withLock { $0 = ContinuousClock.now } }
            let port = try #require(h.client.port)
            let alice = try await h.makeToken(.submitter, owner: "alice")
            let bob = try await h.makeToken(.submitter, owner: "bob")
            let all = try await Stream.open(port, "/v1/events", token: h.adminToken)
            let mine = try await Stream.open(port, "/v1/events", token: alice)
            clients.withLock { $0 += [all, mine] }

            let a = try h.id(of: try await h.submit(["image": "x"], as: .token(alice))).uuidString.lowercased()
            let b = try h.id(of: try await h.submit(["image": "x"], as: .token(bob))).uuidString.lowercased()
            _ = try await h.request(.post, "/v1/executions/\(a)/cancel", as: .token(alice))
            _ = try await h.request(.post, "/v1/executions/\(b)/cancel", as: .token(bob))

            let seenText = try await all.read { (try? Self.events(in: $0).count) == 4 }
            let seen = try Self.events(in: seenText)
            #expect(seen.count == 4, "\(seenText.debugDescription)")
            #expect(seen.map(\.execution) == [a, b, a, b])
            #expect(seen.map(\.to) == ["queued", "queued", "cancelled", "cancelled"])
            #expect(seen.map(\.id) == seen.map(\.id).sorted())
            let own = try Self.events(in: try await mine.read { (try? Self.events(in: $0).count) == 2 })
            #expect(own.map(\.execution) == [a, a] && own.map(\.to) == ["queued", "cancelled"])

            // Resume after the first event: the other three come, old ones replayed from the Store.
            let resumed = try await Stream.open(port, "/v1/events?after=\(seen[0].id)", token: h.adminToken)
            clients.withLock { $0.append(resumed) }
            let resumedText = try await resumed.read { (try? Self.events(in: $0).count) == 3 }
            #expect(try Self.events(in: resumedText).map(\.id) == Array(seen.map(\.id).dropFirst()), "\(resumedText.debugDescription)")
            let byHeader = try await Stream.open(port, "/v1/events?execution=\(b)", token: h.adminToken, headers: "Last-Event-ID: \(seen[0].id)\r\n")
            clients.withLock { $0.append(byHeader) }
            #expect(try Self.events(in: try await byHeader.read { (try? Self.events(in: $0).count) == 2 }).map(\.to) == ["queued", "cancelled"])

            // Bad filters and another owner's stream are refused before the stream starts.
            try h.expectProblem(try await h.request(.get, "/v1/events?after=-1"), status: .unprocessableContent, code: "out_of_range", field: "after")
            try h.expectProblem(try await h.request(.get, "/v1/events?execution=nope"), status: .unprocessableContent, code: "invalid_field", field: "execution")
            try h.expectProblem(try await h.request(.get, "/v1/events?owner=bob", as: .token(alice)), status: .forbidden, code: "forbidden")
        }
    }
}
