public import BerthHTTP
import Foundation
public import BerthPluginKit
import Synchronization

/// The Docker Engine API over one transport: version negotiation, paths, status mapping.
///
/// The API version is the engine's own (from `/version`), capped at the newest this client
/// knows and refused below the oldest it supports; it is negotiated on first use and again
/// after the engine comes back.
public final class DockerAPI: Sendable {
    /// The oldest Engine API version Berth speaks (Docker 20.10).
    public static let minimumVersion = APIVersion(1, 41)
    /// The newest Engine API version Berth knows.
    public static let maximumVersion = APIVersion(1, 47)

    /// An Engine API version such as 1.41.
    public struct APIVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
        /// Major and minor numbers.
        public var major: Int, minor: Int
        /// A version.
        public init(_ major: Int, _ minor: Int) { (self.major, self.minor) = (major, minor) }
        /// Parses `1.41`.
        public init?(_ text: String) {
            let parts = text.split(separator: ".")
            guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return nil }
            self.init(major, minor)
        }
        public static func < (lhs: APIVersion, rhs: APIVersion) -> Bool {
            (lhs.major, lhs.minor) < (rhs.major, rhs.minor)
        }
        public var description: String { "\(major).\(minor)" }
    }

    /// The transport.
    public let transport: any HTTPTransport
    /// Seconds an ordinary call may take.
    public let requestTimeout: Double
    /// The target host, for messages.
    public let host: String
    private let negotiated = Mutex<APIVersion?>(nil)

    /// An API client over `transport`.
    public init(transport: any HTTPTransport, requestTimeout: Double, host: String) {
        self.transport = transport
        self.requestTimeout = requestTimeout
        self.host = host
    }

    /// Where the engine is, for messages.
    public var endpoint: String { transport.endpointDescription }

    /// The negotiated version, asking the engine when not known yet.
    public func version() async throws(PluginError) -> APIVersion {
        if let known = negotiated.withLock({ $0 }) { return known }
        let response = try await transport.send(HTTPRequest(method: "GET", path: "/version", timeout: requestTimeout))
        guard response.status == 200, let text = (try? response.json())?["ApiVersion"]?.stringValue,
              let engine = APIVersion(text)
        else {
            throw PluginError(.unavailable, "host \(host): Docker engine at \(endpoint) answered /version with \(response.status): \(Self.message(in: response))")
        }
        guard engine >= Self.minimumVersion else {
            throw PluginError(
                .unavailable,
                "host \(host): Docker engine at \(endpoint) speaks API \(engine); Berth needs \(Self.minimumVersion) or newer",
                retryable: false)
        }
        let chosen = min(engine, Self.maximumVersion)
        negotiated.withLock { $0 = chosen }
        return chosen
    }

    /// Forgets the negotiated version (the engine went away and may come back upgraded).
    public func forgetVersion() {
        negotiated.withLock { $0 = nil }
    }

    /// How long a request may take.
    public enum Deadline: Sendable, Hashable {
        /// The client's `requestTimeout`.
        case standard
        /// This many seconds.
        case seconds(Double)
        /// None: a stream that lasts as long as its object (followed logs, events).
        case none
    }

    /// A versioned request; its body is `json`, or `body` as it is (set its `Content-Type`).
    public func request(
        _ method: String, _ path: String, query: [(String, String)] = [], json: JSONValue? = nil, body: [UInt8]? = nil,
        headers: [String: String] = [:], deadline: Deadline = .standard
    ) async throws(PluginError) -> HTTPRequest {
        let version = try await version()
        let timeout: Double? = switch deadline {
        case .standard: requestTimeout
        case .seconds(let seconds): seconds
        case .none: nil
        }
        return HTTPRequest(
            method: method, path: "/v\(version)\(path)\(URLEncoding.query(query))", headers: headers,
            body: json?.serialized() ?? body, timeout: timeout)
    }

    /// Sends a versioned request.
    public func send(
        _ method: String, _ path: String, query: [(String, String)] = [], json: JSONValue? = nil, body: [UInt8]? = nil,
        headers: [String: String] = [:], deadline: Deadline = .standard
    ) async throws(PluginError) -> HTTPResponse {
        let request = try await request(method, path, query: query, json: json, body: body, headers: headers, deadline: deadline)
        return try await transport.send(request)
    }

    /// The engine's error message in a response body (`{"message": …}`), or the body itself.
    public static func message(in response: HTTPResponse) -> String {
        if let message = (try? response.json())?["message"]?.stringValue { return message }
        let text = response.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "HTTP \(response.status)" : String(text.prefix(500))
    }

    /// An error for an unexpected response to `operation`.
    public func failure(_ response: HTTPResponse, _ operation: String) -> PluginError {
        let message = "host \(host): \(operation) failed: \(Self.message(in: response))"
        switch response.status {
        case 400: return PluginError(.invalidSpec, message)
        case 401, 403: return PluginError(.permissionDenied, message)
        case 404: return PluginError(.notFound, message)
        case 500...599: return PluginError(.internal, message, retryable: true)
        default: return PluginError(.internal, message)
        }
    }

    /// Percent-encodes one path segment (a container id or an image name).
    public static func pathSegment(_ text: String) -> String {
        URLEncoding.percentEncode(text)
    }
}
