import BerthHTTP
import BerthPluginKit
import CurlHTTP

/// The few Docker Engine API calls the double's kubelet makes, over the engine's unix socket.
final class DockerClient: Sendable {
    /// The label every container of this double carries: key and value.
    let label: (key: String, value: String)
    private let transport: CurlTransport
    private let prefix: String

    /// How long an ordinary call may take.
    private static let timeout = 30.0

    private init(transport: CurlTransport, prefix: String, label: (key: String, value: String)) {
        self.transport = transport
        self.prefix = prefix
        self.label = label
    }

    /// Connects to the engine at `socket` and settles the API version (the engine's, at most 1.43).
    static func connect(socket: String, label: (key: String, value: String)) async throws(KubernetesDoubleError) -> DockerClient {
        let transport = CurlTransport(endpoint: .unixSocket(socket))
        let response: HTTPResponse
        do {
            response = try await transport.send(HTTPRequest(method: "GET", path: "/version", timeout: timeout))
        } catch {
            throw KubernetesDoubleError("cannot reach the Docker engine at \(socket): \(error.message)")
        }
        guard response.status == 200, let version = (try? response.json())?["ApiVersion"]?.stringValue else {
            throw KubernetesDoubleError("the Docker engine at \(socket) answered /version with \(response.status)")
        }
        let parts = version.split(separator: ".").compactMap { Int($0) }
        let chosen = parts.count == 2 && (parts[0], parts[1]) > (1, 43) ? "1.43" : version
        return DockerClient(transport: transport, prefix: "/v\(chosen)", label: label)
    }

    /// `/v1.43<path>?<query>`.
    private func path(_ path: String, _ query: [(String, String)]) -> String {
        let encoded = query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        return prefix + path + (encoded.isEmpty ? "" : "?" + encoded)
    }

    /// Sends a call.
    func send(
        _ method: String, _ path: String, query: [(String, String)] = [], json: JSONValue? = nil, timeout: Double = timeout
    ) async throws(PluginError) -> HTTPResponse {
        try await transport.send(HTTPRequest(
            method: method, path: self.path(path, query), headers: json == nil ? [:] : ["Content-Type": "application/json"],
            body: json?.serialized(), timeout: timeout))
    }

    /// Streams a call's response (logs, events).
    func stream(_ path: String, query: [(String, String)]) -> AsyncThrowingStream<HTTPStreamPart, any Error> {
        transport.stream(HTTPRequest(method: "GET", path: self.path(path, query)))
    }

    /// The engine's message in an error response.
    static func message(_ response: HTTPResponse) -> String {
        if let message = (try? response.json())?["message"]?.stringValue { return message }
        let text = response.text.trimmingSpaces
        return text.isEmpty ? "HTTP \(response.status)" : text
    }

    /// Whether the engine has `image`.
    func hasImage(_ image: String) async throws(PluginError) -> Bool {
        let response = try await send("GET", "/images/\(Self.percentEncode(image, keeping: "/:@"))/json")
        switch response.status {
        case 200: return true
        case 404: return false
        default: throw PluginError(.unavailable, "looking up image \(image): \(Self.message(response))")
        }
    }

    /// Pulls `image` (name and tag or digest); returns the engine's error, nil on success.
    func pull(name: String, tag: String?, digest: String?) async throws(PluginError) -> String? {
        var query = [("fromImage", digest.map { "\(name)@\($0)" } ?? name)]
        if digest == nil { query.append(("tag", tag ?? "latest")) }
        let response = try await send("POST", "/images/create", query: query, timeout: 120)
        guard response.status == 200 else { return Self.message(response) }
        // A 200 pull streams progress; a failure arrives as a line with "error".
        var splitter = LineSplitter()
        var lines = splitter.feed(response.body)
        if let last = splitter.finish() { lines.append(last) }
        return lines.compactMap { (try? JSONValue(parsing: $0))?["error"]?.stringValue }.last
    }

    /// Creates a container named `name`; returns its id, or throws with the engine's message.
    func create(name: String, config: JSONValue) async throws(PluginError) -> String {
        let response = try await send("POST", "/containers/create", query: [("name", name)], json: config)
        guard response.status == 201, let id = (try? response.json())?["Id"]?.stringValue else {
            throw PluginError(.invalidSpec, Self.message(response))
        }
        return id
    }

    /// Unpacks the tar archive `archive` at `/` in the created container `id`.
    func putArchive(_ id: String, _ archive: [UInt8]) async throws(PluginError) {
        let response = try await transport.send(HTTPRequest(
            method: "PUT", path: path("/containers/\(id)/archive", [("path", "/")]), headers: ["Content-Type": "application/x-tar"],
            body: archive, timeout: Self.timeout))
        guard response.status == 200 else { throw PluginError(.invalidSpec, Self.message(response)) }
    }

    /// Starts container `id`, or throws with the engine's message.
    func start(_ id: String) async throws(PluginError) {
        let response = try await send("POST", "/containers/\(id)/start")
        guard response.status == 204 || response.status == 304 else { throw PluginError(.invalidSpec, Self.message(response)) }
    }

    /// `GET /containers/{id}/json`.
    func inspect(_ id: String) async throws(PluginError) -> JSONValue {
        let response = try await send("GET", "/containers/\(id)/json")
        guard response.status == 200, let body = try? response.json() else {
            throw PluginError(.notFound, "inspecting container \(id): \(Self.message(response))")
        }
        return body
    }

    /// Stops container `id`: SIGTERM, then SIGKILL after `grace` seconds.
    func stop(_ id: String, grace: Int) async {
        _ = try? await send("POST", "/containers/\(id)/stop", query: [("t", String(grace))], timeout: Double(grace) + Self.timeout)
    }

    /// Kills container `id` (SIGKILL).
    func kill(_ id: String) async {
        _ = try? await send("POST", "/containers/\(id)/kill")
    }

    /// Removes container `id`, running or not.
    func remove(_ id: String) async {
        _ = try? await send("DELETE", "/containers/\(id)", query: [("force", "1"), ("v", "1")])
    }

    /// The ids of every container of this double, running or not.
    func containers() async throws(PluginError) -> [String] {
        let filters: JSONValue = ["label": [.string("\(label.key)=\(label.value)")]]
        let response = try await send("GET", "/containers/json", query: [("all", "1"), ("filters", filters.jsonText)])
        guard response.status == 200, let list = (try? response.json())?.arrayValue else {
            throw PluginError(.unavailable, "listing containers: \(Self.message(response))")
        }
        return list.compactMap { $0["Id"]?.stringValue }
    }

    /// The `die` events of this double's containers from `since` on, as they come.
    func deaths(since: Timestamp) -> AsyncThrowingStream<HTTPStreamPart, any Error> {
        let filters: JSONValue = ["type": ["container"], "event": ["die"], "label": [.string("\(label.key)=\(label.value)")]]
        let seconds = since.nanosecondsSinceEpoch / 1_000_000_000
        let nanos = since.nanosecondsSinceEpoch % 1_000_000_000
        let fraction = String(nanos)
        let padded = String(repeating: "0", count: 9 - fraction.count) + fraction
        return stream("/events", query: [("filters", filters.jsonText), ("since", "\(seconds).\(padded)")])
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters and `kept`.
    static func percentEncode(_ text: String, keeping kept: String = "") -> String {
        let keptBytes = Set(kept.utf8)
        var output = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                output.append(Character(Unicode.Scalar(byte)))
            case _ where keptBytes.contains(byte):
                output.append(Character(Unicode.Scalar(byte)))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                output += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return output
    }
}
