import BerthCore
import BerthPluginKit
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// `GET /v1/executions/{id}/logs`: the stored output, optionally followed until the execution ends.
///
/// A follower is woken by the Store's notifications (`berth_logs`, `berth_executions`), never
/// by polling. Once subscribed it catches up (state, then logs) before its first wait, since
/// the execution may have ended between the first read and the subscription, and again on
/// every resync marker (the listener reconnected). On each wake-up it reads the execution's state *before* draining the logs: the supervisor
/// writes a terminal state only after the attempt's output, so once it sees a terminal state
/// the drain that follows has everything and the response ends.
struct LogResponder: Sendable {
    let store: any Store
    /// Caps the follows each token holds open.
    let follows: FollowLimiter
    static let pageSize = 1000

    /// What the response is written as, chosen by the `Accept` header.
    enum Format: Sendable {
        /// The bytes as the execution wrote them.
        case text
        /// One `LogChunk` JSON object per line.
        case ndjson
        /// Server-sent events: `id: <seq>`, `event: log`, `data: <LogChunk>` per chunk, then
        /// `event: end` once the output is complete (so a browser's EventSource does not
        /// reconnect to an execution that has ended).
        case eventStream

        init(accept: String) {
            if accept.contains("text/event-stream") {
                self = .eventStream
            } else if accept.contains("application/x-ndjson") {
                self = .ndjson
            } else {
                self = .text
            }
        }

        var contentType: String {
            switch self {
            case .text: "text/plain; charset=utf-8"
            case .ndjson: "application/x-ndjson"
            case .eventStream: "text/event-stream"
            }
        }
    }

    func respond(_ request: Request, id: UUID, token: UUID, logger: Logger) async throws -> Response {
        let parameters = request.uri.queryParameters
        var stream: LogStream?
        if let text = parameters["stream"] {
            guard let value = LogStream(rawValue: String(text)) else {
                throw Problem.invalid("stream", "must be stdout or stderr, found '\(text)'")
            }
            stream = value
        }
        var since: Date?
        if let text = parameters["since"] {
            // A bound far in the past or future means "all" or "nothing", not an error.
            guard let timestamp = Timestamp(rfc3339: String(text), clamping: true) else {
                throw Problem.invalid("since", "expected an RFC 3339 time such as 2026-11-25T12:00:00Z, found '\(text)'")
            }
            since = Wire.date(timestamp)
        }
        var tail: Int?
        if let text = parameters["tail"] {
            guard let lines = Int(text), (0...LogTail.maxLines).contains(lines) else {
                throw Problem.invalid("tail", "must be an integer from 0 to \(LogTail.maxLines), found '\(text)'", code: "out_of_range")
            }
            tail = lines
        }
        var follow = false
        if let text = parameters["follow"] {
            switch text {
            case "true", "1": follow = true
            case "false", "0", "": follow = false
            default: throw Problem.invalid("follow", "must be true or false, found '\(text)'")
            }
        }
        let format = Format(accept: request.headers[.accept] ?? "")
        // A browser's EventSource reconnects with the last `id` it saw: an event stream goes on
        // after it (the other formats have no ids and ignore it; a tail starts where it says).
        var resumeAfter: Int64?
        if let text = request.headers[EventStreamResponder.lastEventID] {
            guard let seq = Int64(text), seq >= 0 else {
                throw Problem.invalid("Last-Event-ID", "must be a log chunk's seq (0 or more), found '\(text)'", code: "out_of_range")
            }
            if format == .eventStream, tail == nil { resumeAfter = seq }
        }

        guard let execution = try await store.execution(id: id) else { throw Problem.executionNotFound(Wire.id(id)) }
        var resumed = LogQuery(executionID: id, stream: stream, since: since, limit: Self.pageSize)
        resumed.afterSeq = resumeAfter
        let query = resumed
        // Read the first page (or the tail) now, so a failing Store still gets a problem response.
        let first: [StoredLogChunk]
        let startAfter: Int64?
        if let tail {
            first = try await LogTail.read(store, query, lines: tail)
            startAfter = try await LogTail.lastSeq(store, query)
        } else {
            first = try await store.logs(query)
            startAfter = first.last?.seq ?? resumeAfter
        }
        var headers = HTTPFields()
        headers[.contentType] = format.contentType
        headers[.cacheControl] = "no-store"
        let store = self.store
        let following = follow && !execution.state.isTerminal
        var permit: FollowLimiter.Permit?
        if following {
            guard let granted = follows.acquire(token) else {
                throw Problem(
                    .tooManyRequests, code: "too_many_follows", title: "Too many log follows",
                    detail: "this token already follows \(follows.limit) executions' logs; end one first")
            }
            permit = granted
        }
        let body = ResponseBody { [permit, startAfter, tail] writer in
            // Held for as long as the response streams; its release frees the place.
            _ = permit
            // Subscribe first: every change after this point wakes the follow.
            let notifications = following ? store.notifications() : nil
            try await writer.write(Self.encode(first, format))
            if let notifications {
                logger.debug("following logs")
                try await Self.follow(store, query, after: startAfter, notifications: notifications, format, &writer)
                logger.debug("log follow ended")
            } else if tail == nil, first.count == Self.pageSize {
                _ = try await Self.drain(store, query, after: startAfter, format, &writer)
            }
            if format == .eventStream { try await writer.write(ByteBuffer(string: "event: end\ndata: {}\n\n")) }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    /// Writes the execution's output after `lastSeq` until it ends or the server shuts down,
    /// woken by `notifications` (subscribed to after the state and the logs before `lastSeq`
    /// were read).
    static func follow(
        _ store: any Store, _ query: LogQuery, after lastSeq: Int64?, notifications: AsyncStream<StoreNotification>,
        _ format: Format, _ writer: inout any ResponseBodyWriter
    ) async throws {
        var lastSeq = lastSeq
        let id = query.executionID
        // The execution may have ended between the first read and the subscription: catch up
        // once before the first wait, as after a resync, or it would be followed forever.
        if try await catchUp(store, id, query, after: &lastSeq, format, &writer) { return }
        let idText = Wire.id(id)
        // A follow ends when the server shuts down, not when the execution does: relay the
        // notifications through a stream that shutdown can finish.
        let (relay, relayEnd) = AsyncStream<StoreNotification>.makeStream()
        let relaying = Task {
            for await notification in notifications { relayEnd.yield(notification) }
            relayEnd.finish()
        }
        defer { relaying.cancel() }
        try await withGracefulShutdownHandler {
            for await notification in relay {
                guard notification.isResync || notification.payload == idText else { continue }
                if try await catchUp(store, id, query, after: &lastSeq, format, &writer) { break }
            }
        } onGracefulShutdown: {
            relayEnd.finish()
        }
    }

    /// Reads the execution's state, then writes every chunk after `lastSeq` and moves it on.
    /// Returns whether the execution has ended (or is gone): then nothing more can come, since
    /// the supervisor stores an attempt's output before its terminal state.
    private static func catchUp(
        _ store: any Store, _ id: UUID, _ query: LogQuery, after lastSeq: inout Int64?, _ format: Format,
        _ writer: inout any ResponseBodyWriter
    ) async throws -> Bool {
        let state = try await store.execution(id: id)?.state
        lastSeq = try await drain(store, query, after: lastSeq, format, &writer)
        return state?.isTerminal ?? true
    }

    /// Writes every chunk after `after`; returns the last `seq` written.
    private static func drain(
        _ store: any Store, _ query: LogQuery, after: Int64?, _ format: Format, _ writer: inout any ResponseBodyWriter
    ) async throws -> Int64? {
        var query = query
        var last = after
        while true {
            query.afterSeq = last
            let chunks = try await store.logs(query)
            if !chunks.isEmpty { try await writer.write(encode(chunks, format)) }
            last = chunks.last?.seq ?? last
            if chunks.count < query.limit { return last }
        }
    }

    private static func encode(_ chunks: [StoredLogChunk], _ format: Format) -> ByteBuffer {
        var bytes: [UInt8] = []
        switch format {
        case .text:
            for chunk in chunks { bytes += chunk.bytes }
        case .ndjson:
            for chunk in chunks {
                Wire.logChunk(chunk).write(into: &bytes)
                bytes.append(UInt8(ascii: "\n"))
            }
        case .eventStream:
            for chunk in chunks {
                bytes += Array("id: \(chunk.seq)\nevent: log\ndata: ".utf8)
                Wire.logChunk(chunk).write(into: &bytes)
                bytes += Array("\n\n".utf8)
            }
        }
        return ByteBuffer(bytes: bytes)
    }
}
