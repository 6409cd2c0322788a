public import BerthHTTP
public import BerthPluginKit
import CurlHTTP

/// Calls to one API server with one set of credentials: paths, bearer token, JSON bodies, and
/// `Status` answers turned into plugin errors (``KubernetesFailure``).
public final class KubernetesClient: Sendable {
    /// The credentials.
    public let credentials: KubernetesCredentials
    /// The transport (libcurl over HTTPS).
    public let transport: any HTTPTransport
    /// Seconds an ordinary call may take.
    public let requestTimeout: Double

    /// A client for `credentials` over `transport`.
    public init(credentials: KubernetesCredentials, transport: any HTTPTransport, requestTimeout: Double) {
        self.credentials = credentials
        self.transport = transport
        self.requestTimeout = requestTimeout
    }

    /// A client over libcurl to the credentials' server.
    public convenience init(credentials: KubernetesCredentials, connectTimeout: Double, requestTimeout: Double) {
        let transport = CurlTransport(endpoint: .url(credentials.server), connectTimeout: connectTimeout, tls: credentials.tls)
        self.init(credentials: credentials, transport: transport, requestTimeout: requestTimeout)
    }

    /// The API server, for messages.
    public var server: String { credentials.server }

    /// A request with the token and `Accept: application/json`; `timeout` nil for streams. A
    /// body is `application/json` unless `contentType` says otherwise (a merge patch).
    public func request(
        _ method: String, _ path: String, query: [(String, String)] = [], json: JSONValue? = nil, contentType: String? = nil,
        timeout: Double?
    ) throws(PluginError) -> HTTPRequest {
        var headers = ["Accept": "application/json"]
        if let contentType { headers["Content-Type"] = contentType }
        if let token = credentials.token {
            headers["Authorization"] = "Bearer \(try token.value())"
        }
        return HTTPRequest(
            method: method, path: path + URLEncoding.query(query), headers: headers, body: json?.serialized(), timeout: timeout)
    }

    /// Sends a call and returns the status and the body as JSON (nil when it is not JSON).
    /// Answers in `accepted` are returned; any other is thrown as ``KubernetesFailure``
    /// naming `verb` and `resource`.
    public func call(
        _ method: String, _ path: String, query: [(String, String)] = [], json: JSONValue? = nil, contentType: String? = nil,
        verb: String, resource: String, accepted: Set<Int> = [200, 201, 202]
    ) async throws(PluginError) -> (status: Int, body: JSONValue?) {
        let response = try await transport.send(request(method, path, query: query, json: json, contentType: contentType, timeout: requestTimeout))
        guard accepted.contains(response.status) else {
            throw KubernetesFailure.error(status: response.status, body: response.body, verb: verb, resource: resource, server: server)
        }
        return (response.status, try? response.json())
    }

    /// `/api/v1/namespaces/{namespace}/{resource}` or the `batch/v1` equivalent.
    public static func path(_ resource: String, namespace: String, name: String? = nil, subresource: String? = nil) -> String {
        let group = resource == "jobs" ? "/apis/batch/v1" : "/api/v1"
        var path = "\(group)/namespaces/\(URLEncoding.percentEncode(namespace))/\(resource)"
        if let name { path += "/" + URLEncoding.percentEncode(name) }
        if let subresource { path += "/" + subresource }
        return path
    }

    /// `a=b,c=d`, the equality selector for `labels`.
    public static func selector(_ labels: [String: String]) -> String {
        labels.keys.sorted().map { "\($0)=\(labels[$0]!)" }.joined(separator: ",")
    }
}
