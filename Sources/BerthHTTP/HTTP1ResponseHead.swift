/// The status line and headers of an HTTP/1.x response.
public struct HTTP1ResponseHead: Sendable, Hashable {
    /// The status code (200–599; informational ones are skipped by the parser).
    public var status: Int
    /// The reason phrase (`OK`), possibly empty.
    public var reason: String
    /// The minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    public var minorVersion: Int
    /// The headers, names lower-cased; repeated headers joined with `", "`.
    public var headers: [String: String]

    /// A head.
    public init(status: Int, reason: String = "", minorVersion: Int = 1, headers: [String: String] = [:]) {
        self.status = status
        self.reason = reason
        self.minorVersion = minorVersion
        self.headers = headers
    }

    /// Whether the server lets the connection stay open after this response: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    public var keepAlive: Bool {
        let tokens = (headers["connection"] ?? "").split(separator: ",").map {
            $0.trimmingOWS().lowercased()
        }
        return minorVersion >= 1 ? !tokens.contains("close") : tokens.contains("keep-alive")
    }
}

/// What ``HTTP1ResponseParser`` finds in the bytes it is fed, in order.
public enum HTTP1ResponseEvent: Sendable, Hashable {
    /// The final (non-informational) response head.
    case head(HTTP1ResponseHead)
    /// A piece of the decoded body (chunk framing removed).
    case body([UInt8])
    /// The response is complete.
    case end
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs (HTTP's optional whitespace).
    func trimmingOWS() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
