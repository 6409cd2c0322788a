import BerthHTTP
public import BerthPluginKit
import Synchronization

/// Reads the one `/events` stream of an instance for its ``BackendEventHub``.
///
/// It asks the engine only for Berth's containers of this server (label filter), reconnects
/// with backoff when the engine goes away, reports `connection` events on loss and on every
/// (re)connection, and resumes from the last event it saw, so no transition is lost while the
/// engine itself keeps running.
final class DockerEventPump: Sendable {
    let api: DockerAPI
    let transport: any HTTPTransport
    let server: String
    /// When the last event seen happened, to resume from after a loss.
    private let lastEvent = Mutex<Timestamp?>(nil)
    /// What the stream told of each container that started and has not died yet: its start
    /// time, and whether the kernel's OOM killer hit it. A `die` then needs no inspect.
    private let running = Mutex<[String: ContainerRun]>([:])

    private struct ContainerRun {
        var startedAt: Timestamp?
        var oomKilled = false
    }

    /// Attribute keys Docker adds to an event's actor that are not container labels.
    private static let engineAttributes: Set<String> = ["name", "image", "exitCode", "signal", "execDuration"]

    /// A pump calling `api`, with its stream on `transport`.
    init(api: DockerAPI, transport: any HTTPTransport, server: String) {
        self.api = api
        self.transport = transport
        self.server = server
    }

    /// A hub whose pump this is.
    func hub() -> BackendEventHub {
        BackendEventHub { hub in await self.pump(hub) }
    }

    private func pump(_ hub: BackendEventHub) async {
        // The first request resumes from now as well: connecting takes a while (over SSH, a
        // session and a `docker system dial-stdio`), and a container started meanwhile would
        // have its `start` missed by a stream that only sees events after it connected. A
        // second of overlap only repeats reports (the conformance suite's `events` check).
        lastEvent.withLock { $0 = $0 ?? Timestamp.now().adding(seconds: -1) }
        await hub.reconnecting(lost: { error in
            api.forgetVersion()
            return "host \(api.host): lost Docker engine at \(api.endpoint): \(error.message)"
        }) { connected throws(PluginError) in
            try await follow(hub, connected: connected)
            throw PluginError(.unavailable, "event stream from Docker engine at \(api.endpoint) ended")
        }
    }

    private func follow(_ hub: BackendEventHub, connected: () -> Void) async throws(PluginError) {
        let filters: JSONValue = [
            "type": ["container"], "event": ["start", "oom", "die"], "label": .array([.string("\(BerthLabel.server)=\(server)")]),
        ]
        var query = [("filters", filters.jsonText)]
        if let since = lastEvent.withLock({ $0 }) {
            query.append(("since", DockerEngineBackend.unixTime(since)))
        }
        let request = try await api.request("GET", "/events", query: query, deadline: .none)
        var splitter = LineSplitter()
        let failed = try await transport.receive(request, accepted: {
            connected()
            hub.setAvailable(true, "connected to Docker engine at \(api.endpoint)")
        }) { bytes in
            for line in splitter.feed(bytes) {
                if let event = try? JSONValue(parsing: line) { await handle(event, hub) }
            }
            return true
        }
        if let failed { throw api.failure(failed, "following events") }
    }

    private func handle(_ event: JSONValue, _ hub: BackendEventHub) async {
        guard event["Type"]?.stringValue == "container", let action = event["Action"]?.stringValue,
              let id = event["Actor"]?["ID"]?.stringValue
        else { return }
        let attributes = (event["Actor"]?["Attributes"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
        let time = event["timeNano"]?.doubleValue.map { Timestamp(nanosecondsSinceEpoch: Int64($0)) }
        if let time { lastEvent.withLock { $0 = time } }
        let handle = RuntimeHandle(json: ["id": .string(id), "name": .string(attributes["name"] ?? "")])
        let labels = attributes.filter { !Self.engineAttributes.contains($0.key) }
        let status: RuntimeStatus
        switch action {
        case "start":
            running.withLock { $0[id, default: ContainerRun()].startedAt = time }
            status = RuntimeStatus(state: .running, startedAt: time)
        case "oom":
            // Comes before the `die` of a container the OOM killer ended.
            running.withLock { $0[id, default: ContainerRun()].oomKilled = true }
            return
        case "die":
            let run = running.withLock { $0.removeValue(forKey: id) }
            let code = attributes["exitCode"].flatMap { Int32($0) }
            // A kill (137) may be the OOM killer's whose `oom` event comes after the `die`: only
            // the inspect can tell then.
            if let run, let startedAt = run.startedAt, let code, code != 137 || run.oomKilled {
                // Everything is known from the stream: an inspect per exit cost a round trip on
                // the path that frees the host's slot.
                status = RuntimeStatus(
                    state: .exited, exitCode: code, reason: run.oomKilled ? "OOMKilled" : nil, startedAt: startedAt, finishedAt: time)
            } else if let body = await inspect(id) {
                // Started before the stream saw it, or killed: the inspect knows.
                var inspected = DockerEngineBackend.status(fromInspect: body)
                // The engine may mark an OOM kill only after the container's `die` (its `oom`
                // event then comes later too, by over a second on a loaded machine): a kill not
                // marked yet is asked about again for up to 1.5 s. Only SIGKILLed containers
                // wait here; the stream's other events wait with them, in order.
                var asked = 0
                while inspected.exitCode == 137, inspected.reason != "OOMKilled", asked < 5 {
                    asked += 1
                    do { try await Task.sleep(for: .milliseconds(300)) } catch { break }
                    guard let again = await inspect(id) else { break }
                    inspected = DockerEngineBackend.status(fromInspect: again)
                }
                status = inspected
            } else {
                status = RuntimeStatus(state: .exited, exitCode: code, startedAt: run?.startedAt, finishedAt: time)
            }
        default:
            return
        }
        hub.broadcast(.status(handle: handle, labels: labels, status: status))
    }

    /// The engine's inspect of container `id`, or nil when it cannot be had.
    private func inspect(_ id: String) async -> JSONValue? {
        guard let response = try? await api.send("GET", "/containers/\(DockerAPI.pathSegment(id))/json"), response.status == 200 else {
            return nil
        }
        return try? response.json()
    }
}

extension DockerEngineBackend {
    /// The instance's shared event stream.
    public func events() -> PluginStream<BackendEvent> {
        eventHub.subscribe()
    }

    /// Ends the event stream.
    public func close() async {
        eventHub.shutdown()
    }
}
