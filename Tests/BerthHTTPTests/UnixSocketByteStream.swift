import BerthHTTP
import BerthPluginKit
import Foundation
import Synchronization
import Glibc  // The tests run on Linux; the calls below are Glibc's.

/// A ``ByteStream`` on a connected unix stream socket, each blocking POSIX call run on a thread
/// of its own (tests only: simple rather than scalable; Dispatch's small pool would starve).
///
/// `close()` only shuts the socket down, which wakes a blocked `recv`; the descriptor itself is
/// closed in `deinit`, when no call can be using it any more, so it is never reused under a
/// pending call.
final class UnixSocketByteStream: ByteStream {
    private let fd: Int32
    private let closed = Mutex(false)

    private init(fd: Int32) {
        self.fd = fd
    }

    deinit {
        _ = Glibc.close(fd)
    }

    /// Whether `close()` was called.
    var isClosed: Bool { closed.withLock { $0 } }

    /// A stream connected to the unix socket at `path`.
    static func connect(path: String) throws(PluginError) -> UnixSocketByteStream {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PluginError(.unavailable, "socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            _ = Glibc.close(fd)
            throw PluginError(.unavailable, "socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
        }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard status == 0 else {
            let code = errno
            _ = Glibc.close(fd)
            throw PluginError(.unavailable, "cannot connect to unix://\(path): errno \(code)")
        }
        return UnixSocketByteStream(fd: fd)
    }

    /// Both ends of a `socketpair(AF_UNIX, SOCK_STREAM)`.
    static func pair() -> (UnixSocketByteStream, UnixSocketByteStream) {
        var fds: [Int32] = [0, 0]
        let status = socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds)
        precondition(status == 0, "socketpair failed: errno \(errno)")
        return (UnixSocketByteStream(fd: fds[0]), UnixSocketByteStream(fd: fds[1]))
    }

    func write(_ bytes: [UInt8]) async throws(PluginError) {
        let fd = fd
        let result: Result<Void, PluginError> = await Self.blocking {
            var offset = 0
            while offset < bytes.count {
                let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if sent < 0 {
                    if errno == EINTR { continue }
                    return .failure(PluginError(.unavailable, "write failed: errno \(errno)"))
                }
                offset += sent
            }
            return .success(())
        }
        try result.get()
    }

    func read() async throws(PluginError) -> [UInt8]? {
        let fd = fd
        let result: Result<[UInt8]?, PluginError> = await Self.blocking {
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if count < 0 {
                    if errno == EINTR { continue }
                    return .failure(PluginError(.unavailable, "read failed: errno \(errno)"))
                }
                return .success(count == 0 ? nil : Array(buffer[..<count]))
            }
        }
        return try result.get()
    }

    func close() async {
        closed.withLock { $0 = true }
        _ = shutdown(fd, Int32(SHUT_RDWR))
    }

    private static func blocking<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: body()) }
        }
    }
}
