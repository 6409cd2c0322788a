public import BerthPluginKit

/// A plugin backed by a ``DockerEngineBackend``: it supplies only its name, schema and how it
/// opens a transport; every operation comes from here, so the Docker plugins share all of it.
public protocol DockerEnginePlugin: BackendPlugin {
    /// The engine backend this instance drives.
    var engine: DockerEngineBackend { get }
}

extension DockerEnginePlugin {
    public func health() async throws(PluginError) -> Health { await engine.health() }
    public func capacity() async throws(PluginError) -> Capacity { try await engine.capacity() }
    public func start(_ spec: ExecutionSpec) async throws(PluginError) -> RuntimeHandle { try await engine.start(spec) }
    public func inspect(_ handle: RuntimeHandle) async throws(PluginError) -> RuntimeStatus {
        try await engine.inspect(handle)
    }
    public func stop(_ handle: RuntimeHandle, graceSeconds: Double) async throws(PluginError) {
        try await engine.stop(handle, graceSeconds: graceSeconds)
    }
    public func remove(_ handle: RuntimeHandle) async throws(PluginError) { try await engine.remove(handle) }
    public func list(labels: [String: String]) async throws(PluginError) -> [RuntimeObject] {
        try await engine.list(labels: labels)
    }
    public func logs(_ request: LogRequest) -> PluginStream<LogChunk> { engine.logs(request) }
    public func collect(_ request: CollectRequest) -> PluginStream<ArchivePart> { engine.collect(request) }
    public func events() -> PluginStream<BackendEvent> { engine.events() }
    public func close() async { await engine.close() }
}
