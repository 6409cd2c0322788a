/// A response that does not follow HTTP/1.1, or breaks one of the parser's limits.
///
/// The parser throws it instead of trapping, whatever bytes it is fed.
public struct HTTPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of defect the response has.
    public enum Kind: Sendable, Hashable {
        /// The status line is not `HTTP/1.x NNN reason`.
        case malformedStatusLine
        /// A header or trailer line is not `name: value`.
        case malformedHeader
        /// The head (status line and headers) or the trailers exceed the size limit.
        case headTooLarge
        /// `Content-Length` is not one non-negative decimal number.
        case invalidContentLength
        /// A chunk-size line is not hexadecimal, or chunk data is not followed by CRLF.
        case malformedChunk
        /// A chunk-size line exceeds its size limit.
        case chunkLineTooLarge
        /// The connection ended before the response did.
        case unexpectedEOF
        /// A response the client does not handle (`101 Switching Protocols`).
        case unsupported
    }

    /// What kind of defect this is.
    public var kind: Kind
    /// What is wrong, for a person.
    public var message: String

    /// An error of `kind`.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The message.
    public var description: String { message }
}
