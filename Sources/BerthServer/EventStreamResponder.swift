import BerthCore
import BerthPluginKit
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle

/// `GET /v1/events`: every state change as server-sent events, for dashboards and scripts.
///
/// Each event is `id: <seq>`, `event: transition`, `data: <the event's JSON>`. The stream starts
/// with the events after `after` (or the `Last-Event-ID` a reconnecting browser sends), else
/// with the next one; it is woken by the Store's `berth_executions` notifications (never by
/// polling) and sends a comment every ``keepAlive`` so proxies keep it open.
///
/// Event numbers come from a sequence, and two transactions may commit out of number order;
/// so each pass reads again from a little before the newest number sent (``lookBack``) and sends
/// only what it has not sent. Events of one execution are always in order: its transitions are
/// serialized by its row lock.
struct EventStreamResponder: Sendable {
    let store: any Store
    let follows: FollowLimiter
    /// How often a comment line is sent while nothing happens.
    static let keepAlive: Duration = .seconds(15)
    /// The header a reconnecting browser sends with the last `id` it saw.
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
    /// How far before the newest sent event each pass reads again.
    static let lookBack: Int64 = 256

    func respond(_ request: Request, caller: Principal, logger: Logger) async throws -> Response {
        let parameters = request.uri.queryParameters
        var query = EventQuery(afterSeq: 0)
        if let text = parameters["execution"] {
            guard let id = UUID(uuidString: String(text)) else {
                throw Problem.invalid("execution", "not an execution id: '\(text)'")
            }
            query.executionID = id
        }
        query.host = parameters["host"].map(String.init)
        query.owner = parameters["owner"].map(String.init)
        for (field, value) in [("host", query.host), ("owner", query.owner)] where value?.unicodeScalars.contains("\u{0}") == true {
            throw Problem.invalid(field, "must not contain NUL characters")
        }
        if caller.role == .submitter {
            // A submitter follows its own executions only.
            if let owner = query.owner, owner != caller.owner {
                throw Problem.forbidden("a submitter token sees only its own executions' events")
            }
            query.owner = caller.owner
        }
        let resumeText = parameters["after"].map(String.init) ?? request.headers[Self.lastEventID]
        if let resumeText {
            guard let seq = Int64(resumeText), seq >= 0 else {
                throw Problem.invalid("after", "must be an event seq (0 or more), found '\(resumeText)'", code: "out_of_range")
            }
            query.afterSeq = seq
        } else {
            query.afterSeq = try await store.latestEventSeq()
        }
        guard let permit = follows.acquire(caller.tokenID) else {
            throw Problem(
                .tooManyRequests, code: "too_many_follows", title: "Too many follows",
                detail: "this token already holds \(follows.limit) log follows and event streams; end one first")
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        let store = self.store
        let start = query
        let body = ResponseBody { writer in
            _ = permit
            // Subscribe before the first read, so nothing falls between the read and the wait.
            let wakes = ExecutionChangeWakes(store: store, every: Self.keepAlive)
            defer { wakes.cancel() }
            var cursor = Cursor(start.afterSeq)
            try await writer.write(ByteBuffer(string: ": berth events after \(start.afterSeq)\n\n"))
            try await Self.send(store, start, &cursor, &writer)
            // The stream ends when the server shuts down, not at its next keep-alive.
            try await withGracefulShutdownHandler {
                for await changed in wakes.stream {
                    if changed {
                        try await Self.send(store, start, &cursor, &writer)
                    } else {
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    }
                }
            } onGracefulShutdown: {
                wakes.cancel()
            }
            try await writer.finish(nil)
        }
        logger.debug("event stream opened", metadata: ["after": "\(start.afterSeq)"])
        return Response(status: .ok, headers: headers, body: body)
    }

    /// What the stream has sent: the newest `seq`, and the ones sent within ``lookBack`` of it.
    struct Cursor {
        private(set) var newest: Int64
        private var sent: Set<Int64> = []
        private let floor: Int64

        init(_ after: Int64) {
            newest = after
            floor = after
        }

        /// Where the next read starts.
        var readFrom: Int64 { max(floor, newest - EventStreamResponder.lookBack) }

        /// Records `seq`; false when it was sent already.
        mutating func take(_ seq: Int64) -> Bool {
            guard seq > floor, sent.insert(seq).inserted else { return false }
            if seq > newest {
                newest = seq
                sent = sent.filter { $0 > newest - EventStreamResponder.lookBack }
            }
            return true
        }
    }

    /// Sends every event `query` selects that the stream has not sent yet.
    private static func send(_ store: any Store, _ query: EventQuery, _ cursor: inout Cursor, _ writer: inout any ResponseBodyWriter) async throws {
        var query = query
        query.afterSeq = cursor.readFrom
        while true {
            let events = try await store.events(query)
            var bytes: [UInt8] = []
            for event in events where cursor.take(event.seq) {
                bytes += Array("id: \(event.seq)\nevent: transition\ndata: ".utf8)
                Wire.event(event).write(into: &bytes)
                bytes += Array("\n\n".utf8)
            }
            if !bytes.isEmpty { try await writer.write(ByteBuffer(bytes: bytes)) }
            guard events.count == query.limit, let last = events.last else { return }
            query.afterSeq = last.seq
        }
    }
}
