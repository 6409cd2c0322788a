import BerthPluginKit
import CSSH2
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The session thread's loop: libssh2 non-blocking, every channel advanced in turn, `poll()`
/// only when nothing could advance. Lives and dies on that one thread.
final class SSHLoop {
    /// One channel's state, touched only by the loop.
    private final class Channel {
        let command: String
        var pointer: OpaquePointer?
        var openReply: SSHDriver.Reply?
        var execStarted = false
        var writes: [(bytes: [UInt8], offset: Int, reply: SSHDriver.Reply)] = []
        var reads: [SSHDriver.ReadReply] = []
        var received = 0
        var stderr: [UInt8] = []
        var ended = false
        var closing = false

        init(command: String, reply: @escaping SSHDriver.Reply) {
            self.command = command
            self.openReply = reply
        }
    }

    private let driver: SSHDriver
    private let session: OpaquePointer
    private let socket: Int32
    private var channels: [Int: Channel] = [:]
    private var nextID = 1
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    /// The last wait woke on input that no channel took (no read was pending).
    private var unclaimedInput = false

    init(driver: SSHDriver, session: OpaquePointer, socket: Int32) {
        self.driver = driver
        self.session = session
        self.socket = socket
    }

    private var hostPort: String { driver.endpoint.hostPort }

    func run() {
        libssh2_session_set_blocking(session, 0)
        var failure: PluginError?
        while failure == nil {
            let (operations, stopping) = driver.take()
            for operation in operations { accept(operation) }
            if stopping { break }
            var progressed = false
            do throws(PluginError) {
                for (id, channel) in channels {
                    progressed = try advance(channel, id: id) || progressed
                }
                var next: Int32 = 0
                if libssh2_keepalive_send(session, &next) < 0, Self.sessionErrno(session) != LIBSSH2_ERROR_EAGAIN {
                    throw PluginError(.unavailable, "ssh \(hostPort): connection lost: \(SSHLogin.lastError(session))")
                }
            } catch {
                failure = error
                break
            }
            if !progressed, let lost = waitForSocket() {
                failure = lost
            }
        }
        shutDown(failure ?? PluginError(.unavailable, "ssh \(hostPort): the connection is closed"))
    }

    private func accept(_ operation: SSHDriver.Operation) {
        switch operation {
        case .open(let command, let reply):
            channels[nextID] = Channel(command: command, reply: reply)
            nextID += 1
        case .write(let id, let bytes, let reply):
            guard let channel = channels[id], !channel.closing else {
                return reply(.failure(PluginError(.unavailable, "ssh \(hostPort): channel closed")))
            }
            channel.writes.append((bytes, 0, reply))
        case .read(let id, let reply):
            guard let channel = channels[id], !channel.closing else { return reply(.success(nil)) }
            channel.reads.append(reply)
        case .close(let id):
            channels[id]?.closing = true
        }
    }

    private static func sessionErrno(_ session: OpaquePointer) -> Int32 {
        libssh2_session_last_errno(session)
    }

    /// Advances one channel as far as it goes without blocking; true when anything happened.
    private func advance(_ channel: Channel, id: Int) throws(PluginError) -> Bool {
        if channel.closing { return close(channel, id: id) }
        if channel.pointer == nil { return try open(channel, id: id) }
        if !channel.execStarted { return try startExec(channel, id: id) }
        guard let pointer = channel.pointer else { return false }
        var progressed = false
        while let write = channel.writes.first {
            let written = write.bytes.withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) {
                    berth_ssh2_channel_write(pointer, $0.baseAddress! + write.offset, write.bytes.count - write.offset)
                }
            }
            if written == Int(LIBSSH2_ERROR_EAGAIN) { break }
            guard written >= 0 else {
                throw PluginError(.unavailable, "ssh \(hostPort): write to '\(channel.command)' failed: \(SSHLogin.lastError(session))")
            }
            progressed = true
            channel.writes[0].offset += written
            if channel.writes[0].offset == write.bytes.count {
                channel.writes.removeFirst()
                write.reply(.success(write.bytes.count))
            }
        }
        progressed = drainStderr(channel, pointer) || progressed
        while !channel.reads.isEmpty {
            let count = buffer.withUnsafeMutableBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { berth_ssh2_channel_read(pointer, $0.baseAddress!, $0.count) }
            }
            if count > 0 {
                channel.received += count
                channel.reads.removeFirst()(.success(Array(buffer[0..<count])))
                progressed = true
            } else if count == Int(LIBSSH2_ERROR_EAGAIN) {
                if libssh2_channel_eof(pointer) == 0 { break }
                finishReads(channel, pointer)
                progressed = true
            } else if count == 0 {
                guard libssh2_channel_eof(pointer) != 0 else { break }
                finishReads(channel, pointer)
                progressed = true
            } else {
                throw PluginError(.unavailable, "ssh \(hostPort): read from '\(channel.command)' failed: \(SSHLogin.lastError(session))")
            }
        }
        return progressed
    }

    /// Reads what the command wrote on stderr (kept for a failure message).
    private func drainStderr(_ channel: Channel, _ pointer: OpaquePointer) -> Bool {
        var progressed = false
        while true {
            let count = buffer.withUnsafeMutableBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { berth_ssh2_channel_read_stderr(pointer, $0.baseAddress!, $0.count) }
            }
            guard count > 0 else { return progressed }
            if channel.stderr.count < 4096 { channel.stderr.append(contentsOf: buffer[0..<min(count, 4096)]) }
            progressed = true
        }
    }

    /// The command's output ended: pending reads get nil, or an error when it never started.
    private func finishReads(_ channel: Channel, _ pointer: OpaquePointer) {
        let status = libssh2_channel_get_exit_status(pointer)
        let stderr = String(decoding: channel.stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let failed = channel.received == 0 && (status == 127 || stderr.contains("not found"))
        let reads = channel.reads
        channel.reads = []
        for read in reads {
            if failed {
                read(.failure(PluginError(
                    .unavailable, "ssh \(hostPort): remote command '\(channel.command)' is missing or failed: \(stderr)",
                    retryable: false)))
            } else {
                read(.success(nil))
            }
        }
    }

    private func open(_ channel: Channel, id: Int) throws(PluginError) -> Bool {
        guard let pointer = berth_ssh2_channel_open_session(session) else {
            let code = Self.sessionErrno(session)
            if code == LIBSSH2_ERROR_EAGAIN { return false }
            let reply = channel.openReply
            channels[id] = nil
            let message = "ssh \(hostPort): the server refused a new channel (sshd's MaxSessions?): \(SSHLogin.lastError(session))"
            reply?(.failure(PluginError(.unavailable, message)))
            if code == LIBSSH2_ERROR_SOCKET_SEND || code == LIBSSH2_ERROR_SOCKET_RECV || code == LIBSSH2_ERROR_SOCKET_DISCONNECT {
                throw PluginError(.unavailable, "ssh \(hostPort): connection lost: \(SSHLogin.lastError(session))")
            }
            return true
        }
        channel.pointer = pointer
        return try startExec(channel, id: id) || true
    }

    private func startExec(_ channel: Channel, id: Int) throws(PluginError) -> Bool {
        guard let pointer = channel.pointer, !channel.execStarted else { return false }
        let result = berth_ssh2_channel_exec(pointer, channel.command)
        if result == LIBSSH2_ERROR_EAGAIN { return false }
        channel.execStarted = true
        let reply = channel.openReply
        channel.openReply = nil
        if result == 0 {
            reply?(.success(id))
        } else {
            channel.closing = true
            reply?(.failure(PluginError(
                .unavailable, "ssh \(hostPort): cannot run '\(channel.command)': \(SSHLogin.lastError(session))")))
        }
        return true
    }

    private func close(_ channel: Channel, id: Int) -> Bool {
        if let pointer = channel.pointer {
            if !channel.execStarted, channel.openReply != nil {
                // Still waiting for exec: keep going until it is answered, then close.
                _ = try? startExec(channel, id: id)
                if !channel.execStarted { return false }
            }
            if libssh2_channel_close(pointer) == LIBSSH2_ERROR_EAGAIN { return false }
            libssh2_channel_free(pointer)
        }
        channels[id] = nil
        channel.openReply?(.failure(PluginError(.unavailable, "ssh \(hostPort): channel closed")))
        for write in channel.writes { write.reply(.failure(PluginError(.unavailable, "ssh \(hostPort): channel closed"))) }
        for read in channel.reads { read(.success(nil)) }
        return true
    }

    /// Waits until the socket or the wake pipe is ready, or a second passes (for keepalives).
    /// Returns an error when the server closed the connection or the socket failed.
    ///
    /// Input that arrives while no channel wants to read (a keepalive reply, a window adjust)
    /// stays in the socket until the next read; so that it does not wake every poll at once,
    /// a wait after such a wake listens only to the wake pipe, briefly.
    private func waitForSocket() -> PluginError? {
        let directions = libssh2_session_block_directions(session)
        var events: Int16 = 0
        if directions & LIBSSH2_SESSION_BLOCK_INBOUND != 0 { events |= Int16(POLLIN) }
        if directions & LIBSSH2_SESSION_BLOCK_OUTBOUND != 0 { events |= Int16(POLLOUT) }
        if events == 0 { events = Int16(POLLIN) }
        if unclaimedInput { events &= ~Int16(POLLIN) }
        var descriptors = [
            pollfd(fd: socket, events: events, revents: 0),
            pollfd(fd: driver.wakeFD, events: Int16(POLLIN), revents: 0),
        ]
        _ = poll(&descriptors, 2, unclaimedInput ? 20 : 1000)
        let ready = descriptors[0].revents
        if ready & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 {
            return PluginError(.unavailable, "ssh \(hostPort): connection lost")
        }
        unclaimedInput = false
        if ready & Int16(POLLIN) != 0 {
            var byte: UInt8 = 0
            let peeked = recv(socket, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
            if peeked == 0 {
                return PluginError(.unavailable, "ssh \(hostPort): connection closed by the server")
            }
            if peeked < 0, errno != EAGAIN, errno != EWOULDBLOCK, errno != EINTR {
                return PluginError(.unavailable, "ssh \(hostPort): connection lost: \(String(cString: strerror(errno)))")
            }
            unclaimedInput = peeked > 0
        }
        return nil
    }

    private func shutDown(_ error: PluginError) {
        driver.markStopped()
        for (_, channel) in channels {
            channel.openReply?(.failure(error))
            for write in channel.writes { write.reply(.failure(error)) }
            for read in channel.reads { read(.failure(error)) }
            if let pointer = channel.pointer { libssh2_channel_free(pointer) }
        }
        channels = [:]
        libssh2_session_disconnect_ex(session, SSH_DISCONNECT_BY_APPLICATION, "berth closing", "")
        libssh2_session_free(session)
        Glibc.close(socket)
        driver.markFinished()
    }
}
