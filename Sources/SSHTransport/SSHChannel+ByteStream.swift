public import BerthHTTP

/// An exec channel is a byte stream, so HTTP/1.1 runs over `docker system dial-stdio`.
extension SSHChannel: ByteStream {}
