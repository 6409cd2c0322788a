public import BerthPluginKit

/// One HTTP request to an engine API.
public struct HTTPRequest: Sendable, Hashable {
    /// The method (`GET`, `POST`, `DELETE`).
    public var method: String
    /// The path with its query, such as `/v1.41/containers/json?all=1`.
    public var path: String
    /// Extra headers.
    public var headers: [String: String]
    /// The body, when there is one (sent as `application/json`).
    public var body: [UInt8]?
    /// Seconds the whole exchange may take; nil for none (streams).
    public var timeout: Double?

    /// A request.
    public init(method: String, path: String, headers: [String: String] = [:], body: [UInt8]? = nil, timeout: Double? = nil) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }

    /// A request whose body is `json`.
    public init(method: String, path: String, json: JSONValue, headers: [String: String] = [:], timeout: Double? = nil) {
        self.init(method: method, path: path, headers: headers, body: json.serialized(), timeout: timeout)
    }
}

/// A complete HTTP response.
public struct HTTPResponse: Sendable, Hashable {
    /// The status code.
    public var status: Int
    /// The headers, names lower-cased.
    public var headers: [String: String]
    /// The body.
    public var body: [UInt8]

    /// A response.
    public init(status: Int, headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The body as text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as JSON.
    public func json() throws(JSONError) -> JSONValue {
        try JSONValue(parsing: body)
    }
}

/// What a streamed response delivers: its head once, then body bytes as they arrive.
public enum HTTPStreamPart: Sendable, Hashable {
    /// Status and headers.
    case head(status: Int, headers: [String: String])
    /// A piece of the body.
    case body([UInt8])
}

/// Carries HTTP exchanges to one engine: libcurl over a unix socket or TCP, or channels of an
/// SSH session. Failures to reach the engine are `unavailable` ``PluginError``s that say where.
public protocol HTTPTransport: Sendable {
    /// Where requests go, for messages (`unix:///run/docker.sock`, `ssh://gpu-box:22`).
    var endpointDescription: String { get }
    /// Sends a request and returns the whole response.
    func send(_ request: HTTPRequest) async throws(PluginError) -> HTTPResponse
    /// Sends a request and streams the response; ending the iteration early aborts it.
    func stream(_ request: HTTPRequest) -> AsyncThrowingStream<HTTPStreamPart, any Error>
}
