public import BerthCore
import Foundation
import Glibc
public import Logging

/// A dedicated LISTEN connection, driven by `poll()` on its socket from its own thread, that fans
/// notifications out to any number of `AsyncStream`s.
///
/// After each (re)connect, once `LISTEN` is in place, every stream gets a
/// ``StoreNotification/resyncChannel`` marker: notifications sent while disconnected are lost,
/// so followers re-read. A dropped connection is reopened with a growing delay (up to 5 s).
// Safety: the mutable fields (`subscribers`, `nextID`, `stopped`, `thread`) are only read and
// written while holding `lock`. The libpq connection lives on the listener thread's stack.
public final class PostgresListener: @unchecked Sendable {
    private let configuration: PostgresConfiguration
    private let channels: [String]
    private let logger: Logger
    private let lock = NSLock()
    private var subscribers: [Int: AsyncStream<StoreNotification>.Continuation] = [:]
    private var nextID = 0
    private var stopped = false
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    /// Creates a listener; its thread starts with the first subscriber.
    /// - Parameters:
    ///   - configuration: Where to connect.
    ///   - channels: The channels to `LISTEN` on.
    ///   - logger: Where to log connects and drops.
    public init(configuration: PostgresConfiguration, channels: [String], logger: Logger) {
        self.configuration = configuration
        self.channels = channels
        self.logger = logger
    }

    /// A new stream of notifications; ends when ``stop()`` is called or the consumer stops iterating.
    public func subscribe() -> AsyncStream<StoreNotification> {
        let (stream, continuation) = AsyncStream<StoreNotification>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        lock.lock()
        if stopped {
            lock.unlock()
            continuation.finish()
            return stream
        }
        let id = nextID
        nextID += 1
        subscribers[id] = continuation
        if thread == nil {
            let thread = Thread { [self] in run() }
            thread.name = "berth-postgres-listen"
            self.thread = thread
            thread.start()
        }
        lock.unlock()
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            self.lock.lock()
            self.subscribers[id] = nil
            self.lock.unlock()
        }
        return stream
    }

    /// Stops the thread, closes the connection and finishes every stream. Waits for the thread.
    public func stop() async {
        let (wasRunning, streams) = lock.withLock {
            let wasRunning = thread != nil && !stopped
            stopped = true
            let streams = Array(subscribers.values)
            subscribers = [:]
            return (wasRunning, streams)
        }
        if wasRunning {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    self.finished.wait()
                    continuation.resume()
                }
            }
        }
        streams.forEach { $0.finish() }
    }

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    /// Delivers `notification` to every stream of this process now, without the database.
    public func announce(_ notification: StoreNotification) {
        broadcast(notification)
    }

    private func broadcast(_ notification: StoreNotification) {
        lock.lock()
        let streams = Array(subscribers.values)
        lock.unlock()
        for stream in streams { stream.yield(notification) }
    }

    /// The listener thread: connect, LISTEN, poll until dropped or stopped, repeat.
    private func run() {
        defer { finished.signal() }
        var delay = 0.1
        while !isStopped {
            let connection: LibPQConnection
            do {
                connection = try LibPQConnection(configuration: configuration)
                for channel in channels {
                    try connection.execute("LISTEN \(try connection.quoteIdentifier(channel))")
                }
            } catch {
                logger.warning("listen connection failed; retrying", metadata: ["error": "\(error)", "delay_s": "\(delay)"])
                sleep(seconds: delay)
                delay = min(delay * 2, 5)
                continue
            }
            delay = 0.1
            logger.debug("listening", metadata: ["channels": "\(channels.joined(separator: ","))", "backend_pid": "\(connection.backendPID)"])
            broadcast(StoreNotification(channel: StoreNotification.resyncChannel, payload: ""))
            pump(connection)
            connection.close()
            if !isStopped { broadcast(StoreNotification(channel: StoreNotification.disconnectedChannel, payload: "")) }
        }
    }

    /// Polls the socket until the connection drops or the listener stops.
    private func pump(_ connection: LibPQConnection) {
        while !isStopped {
            var descriptor = pollfd(fd: connection.socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 200)
            if ready < 0 {
                if errno == EINTR { continue }
                logger.warning("poll failed", metadata: ["errno": "\(errno)"])
                return
            }
            if ready == 0 { continue }
            guard connection.consumeInput(), connection.isHealthy else {
                logger.warning("listen connection dropped; reconnecting")
                return
            }
            while let (channel, payload) = connection.nextNotification() {
                broadcast(StoreNotification(channel: channel, payload: payload))
            }
        }
    }

    private func sleep(seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while !isStopped, Date() < deadline { usleep(50_000) }
    }
}
