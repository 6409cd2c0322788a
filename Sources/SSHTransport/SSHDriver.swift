import BerthPluginKit
import CSSH2
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The thread that owns one libssh2 session (see ``SSHSession``).
final class SSHDriver: Sendable {
    /// How an operation completes: with a number (a channel id, bytes written) or an error.
    typealias Reply = @Sendable (Result<Int, PluginError>) -> Void
    /// How a read completes: bytes, nil at the end, or an error.
    typealias ReadReply = @Sendable (Result<[UInt8]?, PluginError>) -> Void

    /// What a task asks the thread to do.
    enum Operation: Sendable {
        case open(command: String, reply: Reply)
        case write(channel: Int, bytes: [UInt8], reply: Reply)
        case read(channel: Int, reply: ReadReply)
        case close(channel: Int)
    }

    private struct Inbox {
        var operations: [Operation] = []
        var stopping = false
        var running = true
    }

    private let inbox = Mutex(Inbox())
    /// Whether the thread has freed the session and closed its socket, and who waits for it.
    private let finished = Mutex(Finished())

    private struct Finished {
        var done = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    /// A non-blocking pipe: a byte written to `[1]` wakes the loop's `poll()` on `[0]`.
    private let wakePipe: [Int32]
    let endpoint: SSHEndpoint
    /// The thread's name as the OS shows it (`top -H`, /proc): `berth-ssh-N`, N counting sessions.
    let threadName: String

    private static let sessionCounter = Atomic<Int>(0)

    private init(endpoint: SSHEndpoint) {
        self.endpoint = endpoint
        let number = Self.sessionCounter.add(1, ordering: .relaxed).newValue % 100_000
        self.threadName = "berth-ssh-\(number)"
        var fds: [Int32] = [-1, -1]
        _ = pipe(&fds)
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        self.wakePipe = fds
    }

    deinit {
        close(wakePipe[0])
        close(wakePipe[1])
    }

    /// Starts the thread, which logs in and then serves operations until stopped.
    static func start(_ endpoint: SSHEndpoint) async throws(PluginError) -> SSHDriver {
        let driver = SSHDriver(endpoint: endpoint)
        let result: Result<Void, PluginError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                berth_set_thread_name(driver.threadName)
                let connected: SSHLogin.Connected
                do throws(PluginError) {
                    connected = try SSHLogin(endpoint: endpoint).run()
                } catch {
                    driver.markStopped()
                    driver.markFinished()
                    continuation.resume(returning: .failure(error))
                    return
                }
                continuation.resume(returning: .success(()))
                SSHLoop(driver: driver, session: connected.session, socket: connected.socket).run()
            }
            thread.name = "\(driver.threadName) \(endpoint.hostPort)"
            thread.start()
        }
        try result.get()
        return driver
    }

    /// Whether the thread still serves operations.
    var isRunning: Bool { inbox.withLock { $0.running && !$0.stopping } }

    /// Queues an operation and waits for its reply.
    func submit(_ make: (@escaping Reply) -> Operation) async throws(PluginError) -> Int {
        let result: Result<Int, PluginError> = await withCheckedContinuation { continuation in
            post(make { continuation.resume(returning: $0) })
        }
        return try result.get()
    }

    /// Queues a read and waits for its bytes.
    func submitRead(channel: Int) async throws(PluginError) -> [UInt8]? {
        let result: Result<[UInt8]?, PluginError> = await withCheckedContinuation { continuation in
            post(.read(channel: channel, reply: { continuation.resume(returning: $0) }))
        }
        return try result.get()
    }

    /// Queues an operation; if the thread has stopped, fails it at once.
    func post(_ operation: Operation) {
        let accepted = inbox.withLock { inbox -> Bool in
            guard inbox.running, !inbox.stopping else { return false }
            inbox.operations.append(operation)
            return true
        }
        guard accepted else {
            Self.fail(operation, PluginError(.unavailable, "ssh \(endpoint.hostPort): the connection is closed"))
            return
        }
        wake()
    }

    /// Asks the thread to close every channel and the connection.
    func stop() {
        inbox.withLock { $0.stopping = true }
        wake()
    }

    /// Asks the thread to stop and returns once it has freed the session and closed the
    /// socket, so nothing of the connection runs on after a plugin instance was closed (a
    /// process that exits right after would otherwise tear down libssh2's crypto under it).
    func stopAndWait() async {
        stop()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = finished.withLock { finished -> Bool in
                if !finished.done { finished.waiters.append(continuation) }
                return finished.done
            }
            if done { continuation.resume() }
        }
    }

    /// For the thread, last: the connection is gone; wakes ``stopAndWait()``.
    func markFinished() {
        let waiters = finished.withLock { finished in
            finished.done = true
            defer { finished.waiters = [] }
            return finished.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private func wake() {
        var one: UInt8 = 1
        _ = Glibc.write(wakePipe[1], &one, 1)
    }

    /// For the loop: the queued operations, and whether to stop.
    func take() -> (operations: [Operation], stopping: Bool) {
        var drained = [UInt8](repeating: 0, count: 64)
        while Glibc.read(wakePipe[0], &drained, drained.count) > 0 {}
        return inbox.withLock { inbox in
            defer { inbox.operations = [] }
            return (inbox.operations, inbox.stopping)
        }
    }

    /// For the loop: no more operations will be served; fails any still queued.
    func markStopped() {
        let left = inbox.withLock { inbox -> [Operation] in
            inbox.running = false
            defer { inbox.operations = [] }
            return inbox.operations
        }
        for operation in left {
            Self.fail(operation, PluginError(.unavailable, "ssh \(endpoint.hostPort): the connection is closed"))
        }
    }

    var wakeFD: Int32 { wakePipe[0] }

    static func fail(_ operation: Operation, _ error: PluginError) {
        switch operation {
        case .open(_, let reply), .write(_, _, let reply): reply(.failure(error))
        case .read(_, let reply): reply(.failure(error))
        case .close: break
        }
    }
}
