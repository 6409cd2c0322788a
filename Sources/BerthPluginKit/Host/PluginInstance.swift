import CBerthPlugin

/// One instance of a loaded plugin, seen through the ``Backend`` protocol.
///
/// Whatever language the plugin is written in, the host drives it through this type: each
/// method serializes its request, calls the descriptor's C function and awaits its completion.
public final class PluginInstance: Backend {
    /// The plugin this instance belongs to.
    public let plugin: LoadedPlugin
    /// The target host it serves.
    public let host: String
    private let instance: InstancePointer
    private let lifetime = InstanceLifetime()
    private let observer: CallObserver?

    /// Told of each finished call: its operation (`start`, `inspect`, …), how long it took,
    /// and whether it failed.
    public typealias CallObserver = @Sendable (_ operation: String, _ duration: Duration, _ failed: Bool) -> Void

    init(plugin: LoadedPlugin, host: String, instance: InstancePointer, observer: CallObserver? = nil) {
        self.plugin = plugin
        self.host = host
        self.instance = instance
        self.observer = observer
    }

    private var table: berth_plugin_v1_t { plugin.table.table }

    public func health() async throws(PluginError) -> Health {
        let (instance, health) = (self.instance.pointer, table.health!)
        let outcome = try await tracked("health") { await PluginCall.run { health(instance, $0, $1) } }
        return try PluginCall.decode(outcome, as: Health.self, plugin: plugin.name, operation: "health")
    }

    public func capacity() async throws(PluginError) -> Capacity {
        let (instance, capacity) = (self.instance.pointer, table.capacity!)
        let outcome = try await tracked("capacity") { await PluginCall.run { capacity(instance, $0, $1) } }
        return try PluginCall.decode(outcome, as: Capacity.self, plugin: plugin.name, operation: "capacity")
    }

    public func start(_ spec: ExecutionSpec) async throws(PluginError) -> RuntimeHandle {
        try await start(json: spec.json)
    }

    /// Starts an attempt from a spec given as JSON as it is, malformed ones included: what the
    /// conformance suite sends to check that a plugin refuses bad specs with `invalid_spec`.
    public func start(json spec: JSONValue) async throws(PluginError) -> RuntimeHandle {
        let outcome = try await send(spec, table.start!, "start")
        return try PluginCall.decode(outcome, as: RuntimeHandle.self, plugin: plugin.name, operation: "start")
    }

    public func inspect(_ handle: RuntimeHandle) async throws(PluginError) -> RuntimeStatus {
        let outcome = try await send(handle.json, table.inspect!, "inspect")
        return try PluginCall.decode(outcome, as: RuntimeStatus.self, plugin: plugin.name, operation: "inspect")
    }

    public func stop(_ handle: RuntimeHandle, graceSeconds: Double) async throws(PluginError) {
        let outcome = try await send(StopRequest(handle: handle, graceSeconds: graceSeconds).json, table.stop!, "stop")
        try PluginCall.check(outcome, plugin: plugin.name)
    }

    public func remove(_ handle: RuntimeHandle) async throws(PluginError) {
        let outcome = try await send(handle.json, table.remove!, "remove")
        try PluginCall.check(outcome, plugin: plugin.name)
    }

    public func list(labels: [String: String]) async throws(PluginError) -> [RuntimeObject] {
        let outcome = try await send(ListRequest(labels: labels).json, table.list!, "list")
        return try PluginCall.decode(outcome, as: ListResponse.self, plugin: plugin.name, operation: "list").items
    }

    public func logs(_ request: LogRequest) -> PluginStream<LogChunk> {
        let (instance, logs, table) = (self.instance.pointer, self.table.logs!, self.table)
        return ImportedStream.open(plugin: plugin.name, table: table, lifetime: lifetime) { context, item, end in
            Payload.withBytes(request.json) { bytes, length in
                logs(instance, bytes, length, context, item, end)
            }
        }
    }

    /// The plugin's `collect`, when its descriptor has one (an appended field, NULL in the copy
    /// of an older plugin's descriptor); otherwise a stream failing with `unsupported`.
    public func collect(_ request: CollectRequest) -> PluginStream<ArchivePart> {
        guard let collect = table.collect else {
            let name = plugin.name
            return PluginStream { throw PluginError(.unsupported, "plugin '\(name)' does not collect files") }
        }
        let instance = self.instance.pointer
        return ImportedStream.open(plugin: plugin.name, table: table, lifetime: lifetime) { context, item, end in
            Payload.withBytes(request.json) { bytes, length in
                collect(instance, bytes, length, context, item, end)
            }
        }
    }

    public func events() -> PluginStream<BackendEvent> {
        let (instance, events, table) = (self.instance.pointer, self.table.events!, self.table)
        return ImportedStream.open(plugin: plugin.name, table: table, lifetime: lifetime) { context, item, end in
            events(instance, context, item, end)
        }
    }

    /// Cancels the instance's streams, waits for its calls and streams to finish, then closes
    /// it in the plugin. Calls made from now on fail with `unavailable`.
    public func close() async {
        await lifetime.closeWhenIdle()
        let (instance, close) = (self.instance.pointer, table.close!)
        _ = await PluginCall.run { close(instance, $0, $1) }
    }

    /// Runs a call registered with the lifetime, so `close` waits for it.
    private func tracked(_ operation: String, _ call: () async -> PluginCall.Outcome) async throws(PluginError) -> PluginCall.Outcome {
        guard lifetime.enterCall() else {
            throw PluginError(.unavailable, "host \(host): the \(plugin.name) instance is closed")
        }
        defer { lifetime.leaveCall() }
        guard let observer else { return await call() }
        let began = ContinuousClock.now
        let outcome = await call()
        observer(operation, ContinuousClock.now - began, outcome.status != BERTH_STATUS_OK)
        return outcome
    }

    /// The C signature shared by operations that take one request body.
    private typealias BodyOperation = @convention(c) (
        OpaquePointer?, UnsafePointer<CChar>?, Int, UnsafeMutableRawPointer?, berth_completion_fn?
    ) -> Void

    private func send(_ request: JSONValue, _ operation: BodyOperation, _ name: String) async throws(PluginError) -> PluginCall.Outcome {
        let instance = self.instance.pointer
        return try await tracked(name) {
            await PluginCall.run { context, done in
                Payload.withBytes(request) { bytes, length in
                    operation(instance, bytes, length, context, done)
                }
            }
        }
    }
}
