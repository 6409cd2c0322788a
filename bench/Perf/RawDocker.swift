import BerthHTTP
import BerthPluginKit
import CurlHTTP

/// The baseline: the Docker Engine API straight over its unix socket, as a hand-written
/// service would call it (create, start, wait, logs, remove).
struct RawDocker: Sendable {
    let transport: CurlTransport

    init(socket: String) {
        transport = CurlTransport(endpoint: .unixSocket(socket))
    }

    func call(_ method: String, _ path: String, _ body: JSONValue? = nil, timeout: Double = 120) async throws -> HTTPResponse {
        let response = try await transport.send(HTTPRequest(
            method: method, path: "/v1.41" + path, headers: body == nil ? [:] : ["Content-Type": "application/json"],
            body: body?.serialized(), timeout: timeout))
        guard (200..<300).contains(response.status) else { throw PerfError("docker \(method) \(path): \(response.status) \(response.text)") }
        return response
    }

    /// Creates a container of `image` running `args`, with no network, as the Docker plugin
    /// makes it (`NetworkMode: none` and `NetworkDisabled`, which skips setting up a network
    /// namespace's interfaces: without it the baseline's start was 20 ms slower than Berth's).
    func create(_ image: String, _ args: [String]) async throws -> String {
        let response = try await call("POST", "/containers/create", [
            "Image": .string(image), "Cmd": JSONValue(args), "Labels": ["berth.perf": "raw"],
            "AttachStdin": false, "AttachStdout": false, "AttachStderr": false, "Tty": false, "OpenStdin": false,
            "NetworkDisabled": true, "HostConfig": ["NetworkMode": "none"],
        ])
        guard let id = try response.json()["Id"]?.stringValue else { throw PerfError("docker create: no id") }
        return id
    }

    func start(_ id: String) async throws { _ = try await call("POST", "/containers/\(id)/start") }

    /// Waits for the container to exit; returns its code.
    func wait(_ id: String) async throws -> Int {
        Int(try await call("POST", "/containers/\(id)/wait", timeout: 3600).json()["StatusCode"]?.doubleValue ?? -1)
    }

    func remove(_ id: String) async throws { _ = try await call("DELETE", "/containers/\(id)?force=1") }

    /// The whole output of an ended container (multiplexed frames), as Docker sends it.
    func logBytes(_ id: String) async throws -> Int {
        var total = 0
        for try await part in transport.stream(HTTPRequest(method: "GET", path: "/v1.41/containers/\(id)/logs?stdout=1&stderr=1&follow=1")) {
            if case .body(let bytes) = part { total += bytes.count }
        }
        return total
    }

    /// The lines a running container prints, as they arrive (follow), with their arrival times.
    func follow(_ id: String) -> AsyncThrowingStream<HTTPStreamPart, any Error> {
        transport.stream(HTTPRequest(method: "GET", path: "/v1.41/containers/\(id)/logs?stdout=1&follow=1"))
    }
}
