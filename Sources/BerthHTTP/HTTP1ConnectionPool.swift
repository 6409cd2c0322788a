public import BerthPluginKit
import Synchronization

/// An ``HTTPTransport`` speaking HTTP/1.1 over byte streams from a factory (SSH channels
/// running `docker system dial-stdio`), with at most `maxConnections` open at once.
///
/// `send` reuses idle keep-alive connections and opens new ones within the budget; when all
/// are busy, callers wait in FIFO order. A `stream` takes a connection from the same budget
/// for as long as it lasts. Broken connections are discarded; an idempotent request that
/// finds a kept-alive connection already closed by the server is retried on another.
/// `HTTPRequest.timeout` bounds the whole exchange, waiting included, and fails with `timeout`.
public final class HTTP1ConnectionPool: HTTPTransport {
    /// Opens a new byte stream to the server.
    public typealias Factory = @Sendable () async throws(PluginError) -> any ByteStream

    /// What a waiting caller is given.
    private enum Grant {
        case connection(HTTP1Connection)
        case slot
        case failed(PluginError)
    }

    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Grant, Never>
    }

    private struct State {
        var idle: [HTTP1Connection] = []
        var open = 0
        var waiters: [Waiter] = []
        var nextWaiter: UInt64 = 0
        var closed = false
    }

    /// Methods that may be sent again when a reused connection turns out to be dead.
    private static let idempotentMethods: Set<String> = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]

    /// Where the byte streams go, for messages (`ssh://gpu-box:22`).
    public let endpointDescription: String
    /// The most connections open at once (busy, idle and being opened).
    public let maxConnections: Int
    private let factory: Factory
    private let writer: HTTP1RequestWriter
    private let limits: HTTP1ResponseParser.Limits
    private let state = Mutex(State())

    /// A pool of up to `maxConnections` connections from `factory`.
    public init(
        endpointDescription: String, maxConnections: Int = 8,
        writer: HTTP1RequestWriter = HTTP1RequestWriter(), limits: HTTP1ResponseParser.Limits = .init(),
        factory: @escaping Factory
    ) {
        self.endpointDescription = endpointDescription
        self.maxConnections = max(1, maxConnections)
        self.writer = writer
        self.limits = limits
        self.factory = factory
    }

    /// Connections open now (busy, idle or being opened).
    public var openConnections: Int { state.withLock { $0.open } }
    /// Connections open and waiting for a request.
    public var idleConnections: Int { state.withLock { $0.idle.count } }

    /// Sends `request` on a pooled connection and returns the whole response; fails with
    /// `timeout` when `request.timeout` passes first (waiting for a connection included).
    public func send(_ request: HTTPRequest) async throws(PluginError) -> HTTPResponse {
        try await withTimeout(request.timeout, error: self.timeoutError(request)) { () async throws(PluginError) -> HTTPResponse in
            var response = HTTPResponse(status: 0)
            try await self.perform(request) { part in
                switch part {
                case .head(let status, let headers): (response.status, response.headers) = (status, headers)
                case .body(let bytes): response.body.append(contentsOf: bytes)
                }
            }
            return response
        }
    }

    /// Sends `request` on a connection of its own from the budget and streams the response;
    /// ending the iteration early closes that connection and frees its slot.
    public func stream(_ request: HTTPRequest) -> AsyncThrowingStream<HTTPStreamPart, any Error> {
        let (stream, continuation) = AsyncThrowingStream<HTTPStreamPart, any Error>.makeStream()
        let task = Task {
            do throws(PluginError) {
                try await withTimeout(request.timeout, error: self.timeoutError(request)) { () async throws(PluginError) in
                    try await self.perform(request) { continuation.yield($0) }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    /// Closes idle connections and fails waiting callers; later requests fail as unavailable.
    /// Busy connections close when their exchange ends.
    public func close() async {
        let (idle, waiters) = state.withLock { state in
            state.closed = true
            defer { state.idle = []; state.waiters = [] }
            state.open -= state.idle.count
            return (state.idle, state.waiters)
        }
        for waiter in waiters { waiter.continuation.resume(returning: .failed(closedError())) }
        for connection in idle { await connection.byteStream.close() }
    }

    private func timeoutError(_ request: HTTPRequest) -> PluginError {
        PluginError(.timeout, "\(request.method) \(request.path) on \(endpointDescription) timed out after \(request.timeout ?? 0) s")
    }

    private func closedError() -> PluginError {
        PluginError(.unavailable, "the connection pool to \(endpointDescription) is closed", retryable: false)
    }

    /// One exchange on a pooled connection, retried on another when a reused one was dead.
    private func perform(_ request: HTTPRequest, deliver: (HTTPStreamPart) -> Void) async throws(PluginError) {
        var attempts = 0
        while true {
            let (connection, reused) = try await acquire()
            if Task.isCancelled {
                await release(connection)
                throw PluginError(.internal, "\(request.method) \(request.path) on \(endpointDescription) was cancelled")
            }
            do throws(HTTP1Connection.Failure) {
                try await connection.exchange(request, deliver: deliver)
                await release(connection)
                return
            } catch {
                await release(connection)
                attempts += 1
                let retry = error.receivedNothing && reused && !Task.isCancelled && attempts <= maxConnections
                    && Self.idempotentMethods.contains(request.method.uppercased())
                if !retry { throw error.error }
            }
        }
    }

    /// An idle connection (reused), a new one within the budget, or the next one freed.
    private func acquire() async throws(PluginError) -> (HTTP1Connection, Bool) {
        enum Step { case idle(HTTP1Connection), create, wait(UInt64), closed }
        var dead: [HTTP1Connection] = []
        defer {
            for connection in dead { Task { await connection.byteStream.close() } }
        }
        let step: Step = state.withLock { state in
            if state.closed { return .closed }
            while let connection = state.idle.popLast() {
                if connection.byteStream.isOpen { return .idle(connection) }
                // Its SSH connection dropped while it was idle: its slot is free again.
                dead.append(connection)
                state.open -= 1
            }
            if state.open < maxConnections {
                state.open += 1
                return .create
            }
            state.nextWaiter += 1
            return .wait(state.nextWaiter)
        }
        switch step {
        case .idle(let connection): return (connection, true)
        case .create: return (try await create(), false)
        case .closed: throw closedError()
        case .wait(let id):
            switch await wait(id) {
            case .connection(let connection): return (connection, true)
            case .slot: return (try await create(), false)
            case .failed(let error): throw error
            }
        }
    }

    /// Waits in line for a connection or a slot; cancellation leaves the line.
    private func wait(_ id: UInt64) async -> Grant {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Grant, Never>) in
                let cancelled: Bool = state.withLock { state in
                    if Task.isCancelled { return true }
                    if state.closed { return true }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return false
                }
                if cancelled {
                    continuation.resume(returning: .failed(PluginError(.internal, "waiting for a connection to \(endpointDescription) was cancelled")))
                }
            }
        } onCancel: {
            let waiter: Waiter? = state.withLock { state in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(returning: .failed(PluginError(.internal, "waiting for a connection to \(endpointDescription) was cancelled")))
        }
    }

    /// Opens a connection for a slot already counted in `open`.
    private func create() async throws(PluginError) -> HTTP1Connection {
        do throws(PluginError) {
            let stream = try await factory()
            return HTTP1Connection(stream, endpointDescription: endpointDescription, writer: writer, limits: limits)
        } catch {
            freeSlot()
            throw error
        }
    }

    /// Gives a connection back: to the next waiter or the idle list when reusable, else
    /// closes it and passes its slot on.
    private func release(_ connection: HTTP1Connection) async {
        guard connection.isReusable else {
            await connection.byteStream.close()
            freeSlot()
            return
        }
        let waiter: Waiter?? = state.withLock { state in
            if state.closed {
                state.open -= 1
                return .none
            }
            if state.waiters.isEmpty {
                state.idle.append(connection)
                return .some(nil)
            }
            return .some(state.waiters.removeFirst())
        }
        switch waiter {
        case .none: await connection.byteStream.close()
        case .some(nil): break
        case .some(let waiter?): waiter.continuation.resume(returning: .connection(connection))
        }
    }

    /// Frees one slot of the budget, handing it to the next waiter if there is one.
    private func freeSlot() {
        let waiter: Waiter? = state.withLock { state in
            if !state.closed, !state.waiters.isEmpty {
                return state.waiters.removeFirst()
            }
            state.open -= 1
            return nil
        }
        waiter?.continuation.resume(returning: .slot)
    }
}
