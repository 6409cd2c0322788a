/// A request that cannot be written as HTTP/1.1 (a line break in a header, a bad method).
public struct HTTPRequestEncodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, for a person.
    public var message: String

    /// An error saying `message`.
    public init(_ message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}

/// Serializes an ``HTTPRequest`` to HTTP/1.1 bytes.
///
/// The head carries the request line (with the path exactly as given), `Host`, `User-Agent`,
/// the request's own headers (sorted by name, so output is deterministic), `Content-Length`
/// (and `Content-Type: application/json` unless the request sets one) when there is a body, and
/// `Connection: keep-alive` unless asked not to. A request header named `Host`, `User-Agent`
/// or `Connection` replaces the writer's; `Content-Length` and `Transfer-Encoding` belong to
/// the writer and are refused.
public struct HTTP1RequestWriter: Sendable, Hashable {
    /// The `Host` header (`docker` for an engine reached through a byte pipe).
    public var host: String
    /// The `User-Agent` header.
    public var userAgent: String
    /// Whether to ask the server to keep the connection open (`Connection: keep-alive`)
    /// rather than close it after the response (`Connection: close`).
    public var keepAlive: Bool

    /// A writer.
    public init(host: String = "docker", userAgent: String = "berth", keepAlive: Bool = true) {
        self.host = host
        self.userAgent = userAgent
        self.keepAlive = keepAlive
    }

    /// Methods that carry a body by convention: they get `Content-Length: 0` without one.
    private static let bodyMethods: Set<String> = ["POST", "PUT", "PATCH"]

    /// The bytes of `request`: head and body.
    public func serialize(_ request: HTTPRequest) throws(HTTPRequestEncodingError) -> [UInt8] {
        guard !request.method.isEmpty, request.method.utf8.allSatisfy(Self.isTokenByte) else {
            throw HTTPRequestEncodingError("invalid HTTP method \(String(reflecting: request.method))")
        }
        guard request.path.hasPrefix("/") || request.path == "*",
              request.path.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F })
        else {
            throw HTTPRequestEncodingError("invalid request path \(String(reflecting: request.path))")
        }
        var fields: [(String, String)] = []
        var own: [String: String] = [:]
        for (name, value) in request.headers.sorted(by: { $0.key < $1.key }) {
            try Self.check(name: name, value: value)
            switch name.lowercased() {
            case "content-length", "transfer-encoding":
                throw HTTPRequestEncodingError("header \(name) is set by the HTTP/1.1 writer, not by requests")
            case let lower where ["host", "user-agent", "connection", "content-type"].contains(lower):
                own[lower] = value
                fields.append((name, value))
            default:
                fields.append((name, value))
            }
        }
        try Self.check(name: "Host", value: host)
        try Self.check(name: "User-Agent", value: userAgent)
        var head = "\(request.method) \(request.path) HTTP/1.1\r\n"
        if own["host"] == nil { head += "Host: \(host)\r\n" }
        if own["user-agent"] == nil { head += "User-Agent: \(userAgent)\r\n" }
        for (name, value) in fields { head += "\(name): \(value)\r\n" }
        if let body = request.body {
            if own["content-type"] == nil { head += "Content-Type: application/json\r\n" }
            head += "Content-Length: \(body.count)\r\n"
        } else if Self.bodyMethods.contains(request.method) {
            head += "Content-Length: 0\r\n"
        }
        if own["connection"] == nil { head += "Connection: \(keepAlive ? "keep-alive" : "close")\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body = request.body { bytes.append(contentsOf: body) }
        return bytes
    }

    /// Refuses header names that are not tokens and values holding CR, LF or NUL.
    private static func check(name: String, value: String) throws(HTTPRequestEncodingError) {
        guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else {
            throw HTTPRequestEncodingError("invalid header name \(String(reflecting: name))")
        }
        guard !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }) else {
            throw HTTPRequestEncodingError("header \(name) has a line break or NUL in its value")
        }
    }

    /// Whether `byte` may appear in an HTTP token (RFC 9110 `tchar`).
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}
