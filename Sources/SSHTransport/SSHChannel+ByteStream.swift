public import BerthHTTP

/// An exec channel is a byte stream, so HTTP/1.1 runs over `docker system dial-stdio`.
extension SSHChannel: ByteStream {
    /// False once the channel's SSH connection has dropped.
    public var isOpen: Bool { session.isConnected }
}
