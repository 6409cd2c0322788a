import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection to a test server, for requests no HTTP client would send.
///
/// Its calls block (send, recv, poll), so tests run them through ``blocking(_:)``: on Swift's
/// cooperative pool (one thread per core) two blocked tests would starve the servers' own
/// request handlers.
enum RawConnection {
    /// Runs `work` on a thread of its own, off Swift's cooperative pool.
    static func blocking<T: Sendable>(_ work: @Sendable @escaping () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }

    /// A connected socket to 127.0.0.1:`port`.
    static func connect(_ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        return fd
    }

    /// Sends `parts` one by one on a new connection, stopping as soon as the server answers
    /// (so an early answer is read before the server could reset the connection), and returns
    /// what it sends until it closes the connection or is silent for `timeout` seconds.
    static func sendUntilAnswered(_ port: Int, _ parts: [[UInt8]], timeout seconds: Int = 5) async throws -> [UInt8] {
        try await blocking { try sendUntilAnsweredBlocking(port, parts, timeout: seconds) }
    }

    private static func sendUntilAnsweredBlocking(_ port: Int, _ parts: [[UInt8]], timeout seconds: Int) throws -> [UInt8] {
        let fd = try connect(port)
        defer { close(fd) }
        for part in parts {
            var probe = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&probe, 1, 0) > 0 { break }
            let sent = part.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent == part.count else { break }
        }
        return receive(fd, timeout: seconds)
    }

    /// Everything `fd` receives until the peer closes or is silent for `seconds`.
    private static func receive(_ fd: Int32, timeout seconds: Int) -> [UInt8] {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { break }
            answer.append(contentsOf: buffer[0..<count])
        }
        return answer
    }

    /// Sends `request` on a new connection and returns everything the server sends back until
    /// it closes the connection or is silent for `timeout` seconds.
    static func exchange(_ port: Int, _ request: [UInt8], timeout seconds: Int = 5) async throws -> [UInt8] {
        try await blocking { try exchangeBlocking(port, request, timeout: seconds) }
    }

    private static func exchangeBlocking(_ port: Int, _ request: [UInt8], timeout seconds: Int) throws -> [UInt8] {
        let fd = try connect(port)
        defer { close(fd) }
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { break }  // the server may close early; what it sent is the answer
            sent += count
        }
        return receive(fd, timeout: seconds)
    }
}
