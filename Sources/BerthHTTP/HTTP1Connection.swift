public import BerthPluginKit
import Synchronization

/// HTTP/1.1 exchanges, one at a time, over a ``ByteStream``.
///
/// After an exchange the connection is ``isReusable`` when the response was complete and the
/// server keeps the connection open; any failure or cancellation closes the byte stream.
public final class HTTP1Connection: Sendable {
    /// Why an exchange failed, and whether it failed before any response byte arrived (a
    /// kept-alive connection the server had already closed: the request may be retried).
    struct Failure: Error {
        /// The error for the caller.
        var error: PluginError
        /// Whether no byte of a response arrived.
        var receivedNothing: Bool
    }

    private struct State {
        var busy = false
        var reusable = true
        var exchanges = 0
    }

    /// The byte stream.
    public let byteStream: any ByteStream
    /// Where the stream goes, for messages.
    public let endpointDescription: String
    /// How requests are written.
    public let writer: HTTP1RequestWriter
    /// The parser's limits.
    public let limits: HTTP1ResponseParser.Limits
    private let state = Mutex(State())

    /// A connection over `byteStream`.
    public init(
        _ byteStream: any ByteStream, endpointDescription: String,
        writer: HTTP1RequestWriter = HTTP1RequestWriter(), limits: HTTP1ResponseParser.Limits = .init()
    ) {
        self.byteStream = byteStream
        self.endpointDescription = endpointDescription
        self.writer = writer
        self.limits = limits
    }

    /// Whether another exchange may use the connection: every exchange so far completed and
    /// the server keeps the connection open.
    public var isReusable: Bool { state.withLock { !$0.busy && $0.reusable } }

    /// How many exchanges were started on this connection.
    public var exchangeCount: Int { state.withLock { $0.exchanges } }

    /// Sends `request` and returns the whole response. `request.timeout` is not applied here
    /// (``HTTP1ConnectionPool`` does that); cancelling the task closes the connection.
    public func send(_ request: HTTPRequest) async throws(PluginError) -> HTTPResponse {
        var response = HTTPResponse(status: 0)
        do throws(Failure) {
            try await exchange(request) { part in
                switch part {
                case .head(let status, let headers): (response.status, response.headers) = (status, headers)
                case .body(let bytes): response.body.append(contentsOf: bytes)
                }
            }
        } catch {
            throw error.error
        }
        return response
    }

    /// Sends `request` and streams the response: its head, then body pieces as they arrive.
    /// Ending the iteration early closes the connection.
    public func stream(_ request: HTTPRequest) -> AsyncThrowingStream<HTTPStreamPart, any Error> {
        let (stream, continuation) = AsyncThrowingStream<HTTPStreamPart, any Error>.makeStream()
        let task = Task {
            do throws(Failure) {
                try await exchange(request) { continuation.yield($0) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error.error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Writes `request`, reads its response and hands each part to `deliver`. Cancellation
    /// closes the byte stream, which ends a pending read.
    func exchange(_ request: HTTPRequest, deliver: (HTTPStreamPart) -> Void) async throws(Failure) {
        let usable: Bool = state.withLock { state in
            guard !state.busy && state.reusable else { return false }
            state.busy = true
            state.exchanges += 1
            return true
        }
        guard usable else {
            throw Failure(error: PluginError(.internal, "HTTP/1.1 connection to \(endpointDescription) is busy or closed"), receivedNothing: true)
        }
        let stream = byteStream
        let result: Result<Bool, Failure> = await withTaskCancellationHandler {
            do throws(Failure) {
                return .success(try await run(request, deliver: deliver))
            } catch {
                return .failure(error)
            }
        } onCancel: {
            Task { await stream.close() }
        }
        let completed = (try? result.get()) ?? false
        let reusable = completed && !Task.isCancelled
        state.withLock { state in
            state.busy = false
            state.reusable = reusable
        }
        if !reusable { await byteStream.close() }
        _ = try result.get()
    }

    /// One exchange; returns whether the connection may be reused.
    private func run(_ request: HTTPRequest, deliver: (HTTPStreamPart) -> Void) async throws(Failure) -> Bool {
        let what = "\(request.method) \(request.path) on \(endpointDescription)"
        let bytes: [UInt8]
        do throws(HTTPRequestEncodingError) {
            bytes = try writer.serialize(request)
        } catch {
            throw Failure(error: PluginError(.invalidSpec, "\(what): \(error.message)", retryable: false), receivedNothing: false)
        }
        var parser = HTTP1ResponseParser(requestMethod: request.method, limits: limits)
        do throws(PluginError) {
            try await byteStream.write(bytes)
        } catch {
            throw Failure(error: error, receivedNothing: true)
        }
        while !parser.isComplete {
            if Task.isCancelled {
                throw Failure(error: PluginError(.internal, "\(what) was cancelled"), receivedNothing: !parser.receivedBytes)
            }
            let events: [HTTP1ResponseEvent]
            do throws(PluginError) {
                let chunk = try await byteStream.read()
                do throws(HTTPParseError) {
                    if let chunk { events = try parser.feed(chunk) } else { events = try parser.finish() }
                } catch {
                    throw PluginError(.unavailable, "\(what): \(error.message)", retryable: error.kind == .unexpectedEOF)
                }
            } catch {
                throw Failure(error: error, receivedNothing: !parser.receivedBytes)
            }
            for event in events {
                switch event {
                case .head(let head): deliver(.head(status: head.status, headers: head.headers))
                case .body(let body): deliver(.body(body))
                case .end: break
                }
            }
        }
        return parser.canReuseConnection
    }
}
