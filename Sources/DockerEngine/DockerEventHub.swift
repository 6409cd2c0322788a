import BerthHTTP
public import BerthPluginKit
import Synchronization

/// The one `/events` stream of an instance, shared by every subscriber.
///
/// It asks the engine only for Berth's containers of this server (label filter), reconnects
/// with backoff when the engine goes away, reports `connection` events on loss and on every
/// (re)connection, and resumes from the last event it saw, so no transition is lost while the
/// engine itself keeps running.
final class DockerEventHub: Sendable {
    private struct State {
        var subscribers: [Int: PluginStream<BackendEvent>.Continuation] = [:]
        var nextID = 0
        var pump: Task<Void, Never>?
        var available: Bool?
        var lastEvent: Timestamp?
    }

    private let api: DockerAPI
    private let transport: any HTTPTransport
    private let server: String
    private let state = Mutex(State())

    /// Attribute keys Docker adds to an event's actor that are not container labels.
    private static let engineAttributes: Set<String> = ["name", "image", "exitCode", "signal", "execDuration"]

    /// A hub calling `api`, with its stream on `transport`.
    init(api: DockerAPI, transport: any HTTPTransport, server: String) {
        self.api = api
        self.transport = transport
        self.server = server
    }

    /// A new subscriber's stream; the shared connection opens with the first subscriber and
    /// closes with the last.
    func subscribe() -> PluginStream<BackendEvent> {
        let (stream, continuation) = PluginStream<BackendEvent>.makeStream()
        let id = state.withLock { state -> Int in
            let id = state.nextID
            state.nextID += 1
            state.subscribers[id] = continuation
            if state.pump == nil {
                state.pump = Task { await self.pump() }
            }
            return id
        }
        continuation.onTermination = { _ in self.unsubscribe(id) }
        return stream
    }

    private func unsubscribe(_ id: Int) {
        let pump = state.withLock { state -> Task<Void, Never>? in
            state.subscribers[id] = nil
            guard state.subscribers.isEmpty else { return nil }
            defer { state.pump = nil; state.available = nil }
            return state.pump
        }
        pump?.cancel()
    }

    /// Ends every subscriber's stream and the connection.
    func shutdown() {
        let (subscribers, pump) = state.withLock { state in
            defer { state.subscribers = [:]; state.pump = nil }
            return (Array(state.subscribers.values), state.pump)
        }
        pump?.cancel()
        for subscriber in subscribers { subscriber.finish() }
    }

    private func broadcast(_ event: BackendEvent) {
        let subscribers = state.withLock { Array($0.subscribers.values) }
        for subscriber in subscribers { subscriber.yield(event) }
    }

    private func setAvailable(_ available: Bool, _ message: String) {
        let changed = state.withLock { state -> Bool in
            // Every (re)connection is reported (it is the cue to reconcile); a loss only once.
            guard available || state.available != false else { return false }
            state.available = available
            return true
        }
        if changed { broadcast(.connection(available: available, message: message)) }
    }

    private func pump() async {
        var backoff = 0.2
        while !Task.isCancelled {
            do {
                try await follow { backoff = 0.2 }
                throw PluginError(.unavailable, "event stream from Docker engine at \(api.endpoint) ended")
            } catch {
                guard !Task.isCancelled else { return }
                api.forgetVersion()
                let message = (error as? PluginError)?.message ?? "\(error)"
                setAvailable(false, "host \(api.host): lost Docker engine at \(api.endpoint): \(message)")
                try? await Task.sleep(for: .seconds(backoff))
                backoff = min(backoff * 2, 5)
            }
        }
    }

    private func follow(connected: () -> Void) async throws {
        let filters: JSONValue = [
            "type": ["container"], "event": ["start", "die"], "label": .array([.string("\(BerthLabel.server)=\(server)")]),
        ]
        var query = [("filters", filters.jsonText)]
        if let since = state.withLock({ $0.lastEvent }) {
            query.append(("since", DockerEngineBackend.unixTime(since)))
        }
        let request = try await api.request("GET", "/events", query: query, deadline: .none)
        var splitter = LineSplitter()
        var errorBody: [UInt8]?
        var status = 0
        for try await part in transport.stream(request) {
            switch part {
            case .head(let code, _):
                status = code
                if code == 200 {
                    connected()
                    // Resume from here after a loss even if no event has come yet; a second of
                    // overlap only repeats reports, which consumers apply idempotently.
                    state.withLock { $0.lastEvent = $0.lastEvent ?? Timestamp.now().adding(seconds: -1) }
                    setAvailable(true, "connected to Docker engine at \(api.endpoint)")
                } else {
                    errorBody = []
                }
            case .body(let bytes):
                if errorBody != nil {
                    errorBody?.append(contentsOf: bytes)
                    continue
                }
                for line in splitter.feed(bytes) {
                    if let event = try? JSONValue(parsing: line) { await handle(event) }
                }
            }
        }
        if let errorBody {
            throw api.failure(HTTPResponse(status: status, body: errorBody), "following events")
        }
    }

    private func handle(_ event: JSONValue) async {
        guard event["Type"]?.stringValue == "container", let action = event["Action"]?.stringValue,
              let id = event["Actor"]?["ID"]?.stringValue
        else { return }
        let attributes = (event["Actor"]?["Attributes"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
        let time = event["timeNano"]?.doubleValue.map { Timestamp(nanosecondsSinceEpoch: Int64($0)) }
        if let time { state.withLock { $0.lastEvent = time } }
        let handle = RuntimeHandle(json: ["id": .string(id), "name": .string(attributes["name"] ?? "")])
        let labels = attributes.filter { !Self.engineAttributes.contains($0.key) }
        let status: RuntimeStatus
        switch action {
        case "start":
            status = RuntimeStatus(state: .running, startedAt: time)
        case "die":
            // Inspect for what the event lacks (OOMKilled, exact finish time); fall back to it.
            if let response = try? await api.send("GET", "/containers/\(DockerAPI.pathSegment(id))/json"),
               response.status == 200, let body = try? response.json()
            {
                status = DockerEngineBackend.status(fromInspect: body)
            } else {
                let code = attributes["exitCode"].flatMap { Int32($0) }
                status = RuntimeStatus(state: .exited, exitCode: code, finishedAt: time)
            }
        default:
            return
        }
        broadcast(.status(handle: handle, labels: labels, status: status))
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
