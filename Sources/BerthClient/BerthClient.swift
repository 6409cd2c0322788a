public import BerthHTTP
public import BerthPluginKit
import CurlHTTP
import Foundation

/// A client of Berth's REST API (`/v1`), over libcurl.
///
/// Answers are kept as ``JSONValue`` with light typed views (``ExecutionView``). Error answers
/// become ``ClientError/api(_:)`` with the problem's code, status, detail and field; a server
/// that cannot be reached becomes ``ClientError/unreachable(url:message:)``.
public struct BerthClient: Sendable {
    /// The default base URL.
    public static let defaultURL = "http://127.0.0.1:8080"

    /// The server's base URL, without a trailing slash.
    public let baseURL: String
    private let transport: any HTTPTransport
    private let headers: [String: String]

    /// A client of the server at `baseURL`.
    /// - Parameters:
    ///   - baseURL: `http://host:port`; a trailing slash is ignored.
    ///   - token: A bearer token sent with every request, when the server wants one.
    ///   - certificateAuthorityPEM: For `https://`: the PEM certificates to trust instead of the
    ///     system's (a self-signed server certificate, a private CA).
    ///   - transport: The transport; by default libcurl to `baseURL`.
    public init(baseURL: String, token: String? = nil, certificateAuthorityPEM: [UInt8]? = nil, transport: (any HTTPTransport)? = nil) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.transport = transport ?? CurlTransport(
            endpoint: .url(base), tls: certificateAuthorityPEM.map { CurlTLS(certificateAuthorityPEM: $0) })
        var headers = ["Accept": "application/json", "User-Agent": "berth-cli"]
        if let token, !token.isEmpty { headers["Authorization"] = "Bearer \(token)" }
        self.headers = headers
    }

    /// The base URL from `BERTH_URL`, else ``defaultURL``.
    public static func url(from environment: [String: String]) -> String {
        guard let url = environment["BERTH_URL"], !url.isEmpty else { return defaultURL }
        return url
    }

    // MARK: - Executions

    /// Submits an execution (`POST /v1/executions`). The body is the API's submission object
    /// (`image`, `args`, `env`, …). With an idempotency key, submitting the same body again
    /// returns the first execution.
    public func submit(_ body: JSONValue, idempotencyKey: String? = nil) async throws(ClientError) -> ExecutionView {
        var extra: [String: String] = [:]
        if let idempotencyKey { extra["Idempotency-Key"] = idempotencyKey }
        return try ExecutionView(try await send("POST", "/v1/executions", body: body, headers: extra))
    }

    /// Filters for ``list(_:)``.
    public struct ListFilter: Sendable, Hashable {
        /// Only these states (any of them); empty for all.
        public var states: [String]
        /// Only executions on (or for) this host.
        public var host: String?
        /// Only executions with these labels.
        public var labels: [String: String]
        /// At most this many.
        public var limit: Int?
        /// The cursor from the previous page.
        public var after: String?

        /// A filter.
        public init(states: [String] = [], host: String? = nil, labels: [String: String] = [:], limit: Int? = nil, after: String? = nil) {
            self.states = states
            self.host = host
            self.labels = labels
            self.limit = limit
            self.after = after
        }
    }

    /// One page of executions, newest first (`GET /v1/executions`).
    public func list(_ filter: ListFilter = ListFilter()) async throws(ClientError) -> ExecutionPage {
        var query: [(String, String)] = []
        if !filter.states.isEmpty { query.append(("state", filter.states.joined(separator: ","))) }
        if let host = filter.host { query.append(("host", host)) }
        for (key, value) in filter.labels.sorted(by: { $0.key < $1.key }) { query.append(("label", "\(key)=\(value)")) }
        if let limit = filter.limit { query.append(("limit", String(limit))) }
        if let after = filter.after { query.append(("after", after)) }
        let json = try await send("GET", "/v1/executions" + Self.query(query))
        let items: [JSONValue]
        if let array = json.arrayValue {
            items = array
        } else if let array = json["items"]?.arrayValue ?? json["executions"]?.arrayValue ?? json["data"]?.arrayValue {
            items = array
        } else {
            throw ClientError.invalidResponse("expected a list of executions, found \(json.typeName)")
        }
        var executions: [ExecutionView] = []
        for item in items { executions.append(try ExecutionView(item)) }
        let next = json["next"]?.stringValue ?? json["next_after"]?.stringValue ?? json["next_cursor"]?.stringValue
        return ExecutionPage(executions: executions, next: next, json: json)
    }

    /// One execution (`GET /v1/executions/{id}`).
    public func get(_ id: String) async throws(ClientError) -> ExecutionView {
        try ExecutionView(try await send("GET", "/v1/executions/\(Self.escape(id))"))
    }

    /// Asks to cancel an execution (`POST /v1/executions/{id}/cancel`) and returns it as the
    /// server has it after the request.
    public func cancel(_ id: String) async throws(ClientError) -> ExecutionView {
        try ExecutionView(try await send("POST", "/v1/executions/\(Self.escape(id))/cancel"))
    }

    /// The events of an execution, oldest first (`GET /v1/executions/{id}/events`).
    public func events(_ id: String) async throws(ClientError) -> JSONValue {
        try await send("GET", "/v1/executions/\(Self.escape(id))/events")
    }

    /// The latest report of an execution: `kind` is `progress` or `result`
    /// (`GET /v1/executions/{id}/progress`, `…/result`).
    public func report(_ kind: String, of id: String) async throws(ClientError) -> JSONValue {
        try await send("GET", "/v1/executions/\(Self.escape(id))/\(Self.escape(kind))")
    }

    /// The outputs collected from the execution's latest attempt, a tar archive
    /// (`GET /v1/executions/{id}/artifacts`).
    public func artifacts(of id: String) async throws(ClientError) -> [UInt8] {
        try await fetch("GET", "/v1/executions/\(Self.escape(id))/artifacts", timeout: 600).body
    }

    /// The target hosts and their state (`GET /v1/hosts`).
    public func hosts() async throws(ClientError) -> JSONValue {
        try await send("GET", "/v1/hosts")
    }

    /// The loaded plugins (`GET /v1/plugins`).
    public func plugins() async throws(ClientError) -> JSONValue {
        try await send("GET", "/v1/plugins")
    }

    /// Whether the server says it is ready (`GET /readyz` answers 2xx).
    public func isReady() async -> Bool {
        guard let response = try? await transport.send(HTTPRequest(method: "GET", path: "/readyz", headers: headers, timeout: 5)) else {
            return false
        }
        return (200..<300).contains(response.status)
    }

    // MARK: - Logs

    /// Which output streams ``logs(_:follow:stream:since:)`` returns.
    public enum StreamFilter: String, Sendable, Hashable, CaseIterable {
        case stdout
        case stderr
    }

    /// The output of an execution as ndjson lines (`GET /v1/executions/{id}/logs`,
    /// `Accept: application/x-ndjson`), each delivered as soon as it arrives. With `follow`
    /// the stream ends when the execution has ended and all its output was sent.
    /// The stream throws ``ClientError``.
    public func logs(_ id: String, follow: Bool = false, stream: StreamFilter? = nil, since: String? = nil) -> AsyncThrowingStream<LogLine, any Error> {
        var query: [(String, String)] = []
        if follow { query.append(("follow", "true")) }
        if let stream { query.append(("stream", stream.rawValue)) }
        if let since { query.append(("since", since)) }
        var requestHeaders = headers
        requestHeaders["Accept"] = "application/x-ndjson"
        let request = HTTPRequest(method: "GET", path: "/v1/executions/\(Self.escape(id))/logs" + Self.query(query), headers: requestHeaders)
        let parts = transport.stream(request)
        let baseURL = baseURL
        let (lines, continuation) = AsyncThrowingStream<LogLine, any Error>.makeStream()
        let task = Task {
            var status = 0
            var errorBody: [UInt8] = []
            var buffer: [UInt8] = []
            do {
                for try await part in parts {
                    switch part {
                    case .head(let code, _):
                        status = code
                    case .body(let bytes):
                        if !(200..<300).contains(status) {
                            errorBody.append(contentsOf: bytes)
                            continue
                        }
                        buffer.append(contentsOf: bytes)
                        while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                            let line = buffer[..<newline]
                            defer { buffer.removeSubrange(...newline) }
                            if line.allSatisfy({ $0 == 32 || $0 == 13 }) { continue }
                            continuation.yield(try Self.logLine(Array(line)))
                        }
                    }
                }
                if !(200..<300).contains(status) {
                    throw Self.failure(HTTPResponse(status: status, body: errorBody))
                }
                if !buffer.allSatisfy({ $0 == 32 || $0 == 13 || $0 == 10 }) {
                    continuation.yield(try Self.logLine(buffer))
                }
                continuation.finish()
            } catch let error as PluginError {
                continuation.finish(throwing: Self.failure(error, url: baseURL))
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return lines
    }

    private static func logLine(_ bytes: [UInt8]) throws(ClientError) -> LogLine {
        let json: JSONValue
        do {
            json = try JSONValue(parsing: bytes)
        } catch {
            throw ClientError.invalidResponse("a log line is not JSON: \(error)")
        }
        return try LogLine(json)
    }

    // MARK: - Plumbing

    /// Sends a request and returns the JSON answer, or throws the problem it reports.
    public func send(_ method: String, _ path: String, body: JSONValue? = nil, headers extra: [String: String] = [:]) async throws(ClientError) -> JSONValue {
        let response = try await fetch(method, path, body: body, headers: extra)
        if response.body.isEmpty { return .null }
        do {
            return try response.json()
        } catch {
            throw ClientError.invalidResponse("\(method) \(path) answered \(response.status) with a body that is not JSON: \(error)")
        }
    }

    /// Sends a request and returns its 2xx response, or throws the problem it reports.
    func fetch(
        _ method: String, _ path: String, body: JSONValue? = nil, headers extra: [String: String] = [:], timeout: Double = 60
    ) async throws(ClientError) -> HTTPResponse {
        var requestHeaders = headers.merging(extra) { $1 }
        if body != nil { requestHeaders["Content-Type"] = "application/json" }
        let request = HTTPRequest(method: method, path: path, headers: requestHeaders, body: body?.serialized(), timeout: timeout)
        let response: HTTPResponse
        do {
            response = try await transport.send(request)
        } catch {
            throw Self.failure(error, url: baseURL)
        }
        guard (200..<300).contains(response.status) else { throw Self.failure(response) }
        return response
    }

    /// The error for an error status: the problem details in the body, or the status alone.
    static func failure(_ response: HTTPResponse) -> ClientError {
        if let json = try? response.json(), let code = json["code"]?.stringValue {
            return .api(APIProblem(
                status: json["status"]?.int64Value.map { Int($0) } ?? response.status,
                code: code,
                title: json["title"]?.stringValue ?? "",
                detail: json["detail"]?.stringValue ?? json["title"]?.stringValue ?? "HTTP \(response.status)",
                field: json["field"]?.stringValue))
        }
        var text = response.text.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.count > 200 { text = String(text.prefix(200)) + "…" }
        return .api(APIProblem(
            status: response.status, code: "http_\(response.status)",
            detail: text.isEmpty ? "the server answered HTTP \(response.status)" : "HTTP \(response.status): \(text)"))
    }

    /// The error for a transport failure: `unreachable` with a short cause when nothing answered.
    static func failure(_ error: PluginError, url: String) -> ClientError {
        let message = error.message
        let lower = message.lowercased()
        let cause: String? =
            if lower.contains("refused") || lower.contains("couldn't connect") || lower.contains("could not connect") {
                "connection refused"
            } else if lower.contains("resolve") {
                "cannot resolve the host name"
            } else if error.code == .timeout, lower.contains("connect") {
                "timed out connecting"
            } else if error.code == .unavailable, lower.hasPrefix("cannot reach") {
                message.split(separator: ": ", maxSplits: 1).dropFirst().first.map(String.init) ?? message
            } else {
                nil
            }
        if let cause { return .unreachable(url: url, message: cause) }
        return .transport(message)
    }

    static func query(_ items: [(String, String)]) -> String {
        guard !items.isEmpty else { return "" }
        return "?" + items.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    static let unreserved: CharacterSet = {
        var set = CharacterSet.alphanumerics
        set.insert(charactersIn: "-._~")
        return set
    }()

    /// `text` percent-encoded for a URL path segment or query value (RFC 3986 unreserved kept).
    public static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }
}
