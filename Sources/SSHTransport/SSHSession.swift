public import BerthPluginKit
import CSSH2
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One logged-in SSH connection, driven by one thread, carrying many exec channels.
///
/// libssh2 is not thread-safe per session, so only the session's thread touches it: tasks
/// queue operations (open a channel, write, read, close) in a locked inbox and wake the thread
/// through an eventfd; the thread runs libssh2 non-blocking, waits in `poll()` on the socket
/// and the eventfd, and completes each operation by resuming its continuation.
public final class SSHSession: Sendable {
    /// The endpoint this session is logged in to.
    public let endpoint: SSHEndpoint
    let driver: SSHDriver

    private init(endpoint: SSHEndpoint, driver: SSHDriver) {
        self.endpoint = endpoint
        self.driver = driver
    }

    /// Connects and logs in (on the session's own thread).
    /// - Throws: `unavailable` when the server cannot be reached, `permission_denied` for an
    ///   unknown or changed host key or a refused key, each naming what to fix.
    public static func connect(_ endpoint: SSHEndpoint) async throws(PluginError) -> SSHSession {
        let driver = try await SSHDriver.start(endpoint)
        return SSHSession(endpoint: endpoint, driver: driver)
    }

    /// Opens a channel running `command` on the server (such as `docker system dial-stdio`).
    public func exec(_ command: String) async throws(PluginError) -> SSHChannel {
        let id = try await driver.submit { reply in .open(command: command, reply: reply) }
        return SSHChannel(session: self, id: id, command: command)
    }

    /// The name of the session's thread as the OS shows it (`top -H`): `berth-ssh-N`.
    public var threadName: String { driver.threadName }

    /// Whether the connection is still up.
    public var isConnected: Bool { driver.isRunning }

    /// Closes every channel and the connection.
    public func close() {
        driver.stop()
    }

    /// Closes every channel and the connection, and returns once the session's thread has
    /// let go of them.
    public func closeAndWait() async {
        await driver.stopAndWait()
    }

    deinit {
        driver.stop()
    }
}

/// One exec channel: a byte pipe to the remote command's stdin and stdout.
public final class SSHChannel: Sendable {
    /// The session carrying it.
    public let session: SSHSession
    let id: Int
    /// The command it runs.
    public let command: String

    init(session: SSHSession, id: Int, command: String) {
        self.session = session
        self.id = id
        self.command = command
    }

    /// Writes all of `bytes` to the command's stdin.
    public func write(_ bytes: [UInt8]) async throws(PluginError) {
        _ = try await session.driver.submit { reply in .write(channel: id, bytes: bytes, reply: reply) }
    }

    /// The next bytes of the command's stdout; nil at its end.
    public func read() async throws(PluginError) -> [UInt8]? {
        let bytes = try await session.driver.submitRead(channel: id)
        return bytes
    }

    /// Closes the channel.
    public func close() {
        session.driver.post(.close(channel: id))
    }
}
