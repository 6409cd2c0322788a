public import BerthHTTP
public import BerthPluginKit

/// A ``Backend`` on a Docker engine, whatever transport reaches it. The local Docker plugin
/// gives it a unix-socket transport; the SSH plugin gives it channels of an SSH session.
public final class DockerEngineBackend: Sendable {
    /// The API client.
    public let api: DockerAPI
    /// The shared settings.
    public let settings: DockerEngineSettings
    /// How followed logs are read.
    public let logFollow: LogFollowMode
    let eventHub: BackendEventHub

    /// How `logs(follow: true)` reads a running container's output.
    public enum LogFollowMode: Sendable, Hashable {
        /// One streamed `/logs?follow=1` response per follower, open while the container runs.
        case stream
        /// Repeated `/logs?since=` calls over the shared connections, every `interval` seconds
        /// while the container runs and once after: for transports whose connections are a
        /// small fixed budget (an SSH host's channels), where one per follower cannot be had.
        case poll(interval: Double)
    }

    /// A backend over `transport` with `settings`.
    /// - Parameters:
    ///   - transport: Carries the API calls (and followed logs when `logFollow` is `.stream`).
    ///   - eventTransport: Carries the long-lived `/events` stream; `transport` when nil.
    ///   - logFollow: How followed logs are read.
    ///   - settings: The shared settings.
    public init(
        transport: any HTTPTransport, eventTransport: (any HTTPTransport)? = nil, logFollow: LogFollowMode = .stream,
        settings: DockerEngineSettings
    ) {
        self.settings = settings
        self.logFollow = logFollow
        self.api = DockerAPI(transport: transport, requestTimeout: settings.requestTimeout, host: settings.host)
        self.eventHub = DockerEventPump(api: api, transport: eventTransport ?? transport, server: settings.server).hub()
    }

    var host: String { settings.host }

    /// The container name of an attempt: unique per execution and attempt, so a repeated start
    /// of the same attempt finds the first container instead of making a second.
    static func containerName(_ spec: ExecutionSpec) -> String {
        let safe = spec.executionID.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }
        return "berth-\(String(safe))-\(spec.attempt)"
    }

    static func containerID(_ handle: RuntimeHandle, host: String) throws(PluginError) -> String {
        guard let id = handle.id, !id.isEmpty else {
            throw PluginError(.invalidSpec, "host \(host): runtime handle \(handle) has no container id")
        }
        return id
    }

    /// The engine's health: `_ping`, then `/info`.
    public func health() async -> Health {
        do throws(PluginError) {
            let ping = try await api.transport.send(HTTPRequest(method: "GET", path: "/_ping", timeout: api.requestTimeout))
            guard ping.status == 200 else {
                return Health(ok: false, message: "Docker engine at \(api.endpoint) answered _ping with \(ping.status)")
            }
            let info = try await api.send("GET", "/info")
            guard info.status == 200, let body = try? info.json() else { throw api.failure(info, "info") }
            let version = body["ServerVersion"]?.stringValue
            return Health(
                ok: true, message: "Docker engine \(version ?? "?") at \(api.endpoint)",
                engineVersion: version, cpus: body["NCPU"]?.doubleValue, memoryBytes: body["MemTotal"]?.int64Value)
        } catch {
            api.forgetVersion()
            return Health(ok: false, message: error.message)
        }
    }

    /// Capacity from settings, and the Berth containers running now.
    public func capacity() async throws(PluginError) -> Capacity {
        let filters: JSONValue = [
            "label": .array([.string("\(BerthLabel.server)=\(settings.server)")]), "status": ["running"],
        ]
        let response = try await api.send("GET", "/containers/json", query: [("filters", filters.jsonText)])
        guard response.status == 200, let items = (try? response.json())?.arrayValue else {
            throw api.failure(response, "listing running containers")
        }
        return Capacity(maxConcurrent: settings.maxConcurrent, running: items.count)
    }

    /// Pulls as the policy says, creates the container with Berth's labels, and starts it.
    public func start(_ spec: ExecutionSpec) async throws(PluginError) -> RuntimeHandle {
        guard let image = ImageReference(spec.image) else {
            throw PluginError(.invalidSpec, "host \(host): execution \(spec.executionID): '\(spec.image)' is not an image reference")
        }
        let policy = spec.pullPolicy ?? settings.pullPolicy
        if policy == .always { try await ensureImage(image, policy: .always, execution: spec.executionID) }
        let name = Self.containerName(spec)
        // Create first: the image is usually there, and asking the engine beforehand cost a round
        // trip on every start. A 404 says it is not: pull as the policy allows (`never`:
        // image_not_found), then create once more.
        var response = try await api.send(
            "POST", "/containers/create", query: [("name", name)], json: createBody(spec, image: image))
        if response.status == 404 {
            try await ensureImage(image, policy: policy, execution: spec.executionID)
            response = try await api.send(
                "POST", "/containers/create", query: [("name", name)], json: createBody(spec, image: image))
        }
        let id: String
        switch response.status {
        case 201:
            guard let created = (try? response.json())?["Id"]?.stringValue else {
                throw PluginError(.internal, "host \(host): create answered without an Id")
            }
            id = created
        case 409:
            // This attempt's container exists already (a start whose reply was lost, or a
            // reconciliation that saw it before it ran): adopt it, and start it only if it never
            // ran. Docker starts an exited container again, which would run the attempt twice.
            let adopted = RuntimeHandle(json: ["id": .string(name), "name": .string(name)])
            guard try await inspect(adopted).state == .created else { return adopted }
            id = name
        default:
            throw api.failure(response, "execution \(spec.executionID): creating the container")
        }
        if !spec.files.isEmpty {
            // Also for an adopted container: placing the same files again changes nothing.
            try await place(spec.files, in: id, execution: spec.executionID)
        }
        let started = try await api.send("POST", "/containers/\(DockerAPI.pathSegment(id))/start")
        guard started.status == 204 || started.status == 304 else {
            let error = api.failure(started, "execution \(spec.executionID): starting the container")
            _ = try? await api.send("DELETE", "/containers/\(DockerAPI.pathSegment(id))", query: [("force", "1")])
            throw error
        }
        return RuntimeHandle(json: ["id": .string(id), "name": .string(name)])
    }

    private func createBody(_ spec: ExecutionSpec, image: ImageReference) -> JSONValue {
        var hostConfig: [String: JSONValue] = ["NetworkMode": .string(spec.networkMode)]
        if let cpus = spec.cpus { hostConfig["NanoCpus"] = .number((cpus * 1e9).rounded()) }
        if let memory = spec.memoryBytes { hostConfig["Memory"] = .number(Double(memory)) }
        var body: [String: JSONValue] = [
            "Image": .string(spec.image),
            "Env": JSONValue(spec.env.keys.sorted().map { "\($0)=\(spec.env[$0]!)" }),
            "Labels": JSONValue(spec.runtimeLabels(server: settings.server)),
            "AttachStdin": false, "AttachStdout": false, "AttachStderr": false, "Tty": false, "OpenStdin": false,
            "HostConfig": .object(hostConfig),
        ]
        if let command = spec.command { body["Entrypoint"] = JSONValue(command) }
        if !spec.args.isEmpty { body["Cmd"] = JSONValue(spec.args) }
        if let workingDir = spec.workingDir { body["WorkingDir"] = .string(workingDir) }
        if spec.networkMode == "none" { body["NetworkDisabled"] = true }
        return .object(body)
    }
}
