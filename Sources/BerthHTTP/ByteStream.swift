public import BerthPluginKit

/// A duplex byte pipe to an HTTP/1.1 server: an SSH channel running
/// `docker system dial-stdio`, a unix socket, a TCP connection.
///
/// One exchange at a time reads and writes it; ``close()`` may come from any task at any time
/// and must make a pending ``read()`` return (nil or an error) promptly.
public protocol ByteStream: Sendable {
    /// Writes all of `bytes`.
    func write(_ bytes: [UInt8]) async throws(PluginError)
    /// The next bytes that arrive (never empty), or nil once the peer has closed its side.
    func read() async throws(PluginError) -> [UInt8]?
    /// Closes the pipe in both directions; later reads return nil or throw. Idempotent.
    func close() async
    /// False once the pipe is known to be dead (its SSH connection dropped), so a pool does not
    /// hand it out again. Answered without waiting.
    var isOpen: Bool { get }
}

extension ByteStream {
    /// A pipe is taken to be open until an exchange on it fails.
    public var isOpen: Bool { true }
}
