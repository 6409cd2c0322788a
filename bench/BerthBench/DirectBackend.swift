import BerthPluginKit
import Synchronization

/// The baseline: an in-process Swift ``Backend`` doing the work the Simulated plugin's
/// `inspect` does (find the execution by handle under a lock, return its status), without
/// JSON, C or a completion callback.
final class DirectBackend: Backend {
    private let statuses = Mutex<[String: RuntimeStatus]>([:])
    private let next = Atomic<Int>(1)

    func health() async throws(PluginError) -> Health {
        Health(ok: true, message: "direct")
    }

    func capacity() async throws(PluginError) -> Capacity {
        let running = statuses.withLock { $0.values.count { !$0.isFinal } }
        return Capacity(maxConcurrent: 4, running: running)
    }

    func start(_ spec: ExecutionSpec) async throws(PluginError) -> RuntimeHandle {
        let id = "direct-\(next.add(1, ordering: .relaxed).oldValue)"
        let status = RuntimeStatus(state: .running, startedAt: Timestamp.now())
        statuses.withLock { $0[id] = status }
        return RuntimeHandle(id: id)
    }

    func inspect(_ handle: RuntimeHandle) async throws(PluginError) -> RuntimeStatus {
        guard let id = handle.id, let status = statuses.withLock({ $0[id] }) else {
            throw PluginError(.notFound, "no execution \(handle)")
        }
        return status
    }

    func stop(_ handle: RuntimeHandle, graceSeconds: Double) async throws(PluginError) {
        guard let id = handle.id else { throw PluginError(.notFound, "no execution \(handle)") }
        try statuses.withLock { (all) throws(PluginError) in
            guard var status = all[id] else { throw PluginError(.notFound, "no execution \(handle)") }
            guard !status.isFinal else { return }
            status.state = .exited
            status.exitCode = 137
            status.reason = "stopped"
            status.finishedAt = Timestamp.now()
            all[id] = status
        }
    }

    func remove(_ handle: RuntimeHandle) async throws(PluginError) {
        guard let id = handle.id, statuses.withLock({ $0.removeValue(forKey: id) }) != nil else {
            throw PluginError(.notFound, "no execution \(handle)")
        }
    }

    func list(labels: [String: String]) async throws(PluginError) -> [RuntimeObject] {
        statuses.withLock { all in
            all.map { RuntimeObject(handle: RuntimeHandle(id: $0.key), labels: [:], status: $0.value) }
        }
    }

    func logs(_ request: LogRequest) -> PluginStream<LogChunk> {
        PluginStream { $0.finish() }
    }

    func events() -> PluginStream<BackendEvent> {
        PluginStream { $0.finish() }
    }

    func close() async {}
}
