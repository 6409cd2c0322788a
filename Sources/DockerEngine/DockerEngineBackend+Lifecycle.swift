import BerthHTTP
public import BerthPluginKit

extension DockerEngineBackend {
    /// The container's status from `/containers/{id}/json`.
    public func inspect(_ handle: RuntimeHandle) async throws(PluginError) -> RuntimeStatus {
        let id = try Self.containerID(handle, host: host)
        let response = try await api.send("GET", "/containers/\(DockerAPI.pathSegment(id))/json")
        guard response.status == 200, let body = try? response.json() else {
            throw api.failure(response, "inspecting container \(id)")
        }
        return Self.status(fromInspect: body)
    }

    /// A runtime status from an inspect body's `State`.
    static func status(fromInspect body: JSONValue) -> RuntimeStatus {
        let state = body["State"] ?? [:]
        let startedAt = state["StartedAt"]?.stringValue.flatMap(Self.engineTime)
        let finishedAt = state["FinishedAt"]?.stringValue.flatMap(Self.engineTime)
        let exitCode = state["ExitCode"]?.int64Value.flatMap { Int32(exactly: $0) }
        let error = state["Error"]?.stringValue ?? ""
        switch state["Status"]?.stringValue ?? "" {
        case "created":
            if !error.isEmpty { return RuntimeStatus(state: .failed, reason: error) }
            return RuntimeStatus(state: .created)
        case "running", "paused", "restarting":
            return RuntimeStatus(state: .running, startedAt: startedAt)
        case "dead":
            return RuntimeStatus(state: .failed, exitCode: exitCode, reason: error.isEmpty ? "container is dead" : error,
                                 startedAt: startedAt, finishedAt: finishedAt)
        default:  // exited, removing
            let reason = state["OOMKilled"]?.boolValue == true ? "OOMKilled" : (error.isEmpty ? nil : error)
            return RuntimeStatus(state: .exited, exitCode: exitCode, reason: reason, startedAt: startedAt, finishedAt: finishedAt)
        }
    }

    /// Docker writes "never" as year 1.
    static func engineTime(_ text: String) -> Timestamp? {
        guard !text.hasPrefix("0001-") else { return nil }
        return Timestamp(rfc3339: text)
    }

    /// Stops the container: SIGTERM, then SIGKILL after the grace period (the engine does both).
    public func stop(_ handle: RuntimeHandle, graceSeconds: Double) async throws(PluginError) {
        let id = try Self.containerID(handle, host: host)
        let grace = Int(graceSeconds.rounded(.up))
        let response = try await api.send(
            "POST", "/containers/\(DockerAPI.pathSegment(id))/stop", query: [("t", String(grace))],
            deadline: .seconds(Double(grace) + settings.requestTimeout))
        guard response.status == 204 || response.status == 304 else {
            throw api.failure(response, "stopping container \(id)")
        }
    }

    /// Removes the container and its anonymous volumes.
    public func remove(_ handle: RuntimeHandle) async throws(PluginError) {
        let id = try Self.containerID(handle, host: host)
        let response = try await api.send(
            "DELETE", "/containers/\(DockerAPI.pathSegment(id))", query: [("force", "1"), ("v", "1")])
        guard response.status == 204 else { throw api.failure(response, "removing container \(id)") }
    }

    /// Containers carrying all of `labels`, each inspected for its exact status.
    public func list(labels: [String: String]) async throws(PluginError) -> [RuntimeObject] {
        let filters: JSONValue = ["label": JSONValue(labels.keys.sorted().map { "\($0)=\(labels[$0]!)" })]
        let response = try await api.send(
            "GET", "/containers/json", query: [("all", "1"), ("filters", filters.jsonText)])
        guard response.status == 200, let items = (try? response.json())?.arrayValue else {
            throw api.failure(response, "listing containers")
        }
        var objects: [RuntimeObject] = []
        for item in items {
            guard let id = item["Id"]?.stringValue else { continue }
            let handle = RuntimeHandle(json: ["id": .string(id), "name": .string(Self.listedName(item))])
            let status: RuntimeStatus
            do {
                status = try await inspect(handle)
            } catch where error.code == .notFound {
                continue  // removed since the listing
            }
            let itemLabels = (item["Labels"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
            objects.append(RuntimeObject(handle: handle, labels: itemLabels, status: status))
        }
        return objects
    }

    private static func listedName(_ item: JSONValue) -> String {
        let name = item["Names"]?.arrayValue?.first?.stringValue ?? ""
        return name.hasPrefix("/") ? String(name.dropFirst()) : name
    }

    /// The container's output from the multiplexed log stream; a followed one ends when the
    /// container has ended and everything it wrote was delivered.
    public func logs(_ request: LogRequest) -> PluginStream<LogChunk> {
        let (output, continuation) = PluginStream<LogChunk>.makeStream()
        let task = Task {
            do throws(PluginError) {
                let id = try Self.containerID(request.handle, host: host)
                switch (request.follow, logFollow) {
                case (false, _):
                    try await readLogs(id, since: request.since, follow: false) { continuation.yield($0) }
                case (true, .stream):
                    // Docker (20.10) ends a followed stream without a last line that has no
                    // newline; one plain read from the last chunk's time delivers what it missed.
                    var resume = LogResumePoint(since: request.since)
                    for follow in [true, false] {
                        resume.beginPass()
                        try await readLogs(id, since: resume.since, follow: follow) { chunk in
                            if resume.admit(chunk) { continuation.yield(chunk) }
                        }
                    }
                case (true, .poll(let interval)):
                    try await pollLogs(id, since: request.since, interval: interval) { continuation.yield($0) }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return output
    }

    /// Follows by polling: each round asks whether the container still runs, then for the
    /// output since the last chunk; the round after it stopped running is the last.
    private func pollLogs(
        _ id: String, since: Timestamp?, interval: Double, deliver: (LogChunk) -> Void
    ) async throws(PluginError) {
        var resume = LogResumePoint(since: since)
        while true {
            let status = try await inspect(RuntimeHandle(json: ["id": .string(id)]))
            resume.beginPass()
            try await readLogs(id, since: resume.since, follow: false) { chunk in
                if resume.admit(chunk) { deliver(chunk) }
            }
            if status.isFinal { return }
            do {
                try await Task.sleep(for: .seconds(interval))
            } catch {
                throw PluginError(.internal, "host \(host): following logs of \(id) was cancelled")
            }
        }
    }

    /// One `/logs` response, decoded chunk by chunk.
    private func readLogs(
        _ id: String, since: Timestamp?, follow: Bool, deliver: (LogChunk) -> Void
    ) async throws(PluginError) {
        var query = [("stdout", "1"), ("stderr", "1"), ("timestamps", "1"), ("follow", follow ? "1" : "0")]
        if let since { query.append(("since", Self.unixTime(since))) }
        let http = try await api.request(
            "GET", "/containers/\(DockerAPI.pathSegment(id))/logs", query: query, deadline: follow ? .none : .standard)
        var decoder = DockerLogDecoder()
        let failed = try await api.transport.receive(http) { bytes throws(PluginError) in
            for chunk in try decoder.feed(bytes) { deliver(chunk) }
            return true
        }
        if let failed { throw api.failure(failed, "reading logs of container \(id)") }
    }

    /// Docker's `since`: seconds since the epoch with nanoseconds.
    static func unixTime(_ time: Timestamp) -> String {
        let seconds = time.nanosecondsSinceEpoch / 1_000_000_000
        let nanos = String(time.nanosecondsSinceEpoch % 1_000_000_000)
        return "\(seconds).\(String(repeating: "0", count: 9 - nanos.count))\(nanos)"
    }
}
