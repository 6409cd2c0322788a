import BerthPluginKit
import Foundation
import Synchronization

/// A Berth backend that runs each attempt as a local process of the plugin's own user: the
/// spec's `command` and `args`, with its `env`, in its own process group. The image is recorded
/// but not used, and nothing is isolated: an example of the plugin ABI, not a sandbox.
struct ProcessPlugin: BackendPlugin {
    static let name = "example-process"
    static let version = "0.1.0"
    static let settingsSchema: JSONValue = [
        "type": "object",
        "properties": [
            "max_concurrent": ["type": "integer", "minimum": 1, "default": 4, "description": "Attempts the host runs at once."],
            "path": ["type": "string", "default": "/usr/local/bin:/usr/bin:/bin", "description": "PATH of the processes."],
        ],
        "additionalProperties": false,
    ]

    let maxConcurrent: Int
    let path: String
    let server: String
    let attempts: AttemptTable
    let hub: BackendEventHub

    static func open(_ settings: PluginSettings) async throws(PluginError) -> ProcessPlugin {
        try settings.rejectUnknownKeys(allowed: ["max_concurrent", "path"])
        let reader = try settings.reader()
        let maxConcurrent: Int64
        let path: String
        do {
            maxConcurrent = try reader.optionalInt("max_concurrent") ?? 4
            path = try reader.optionalString("path") ?? "/usr/local/bin:/usr/bin:/bin"
        } catch {
            throw PluginError(.invalidConfig, "host \(settings.host): \(error)")
        }
        guard maxConcurrent >= 1 else {
            throw PluginError(.invalidConfig, "host \(settings.host): settings.max_concurrent must be at least 1")
        }
        // Nothing to connect to: the event stream is available as soon as anyone listens.
        let events = BackendEventHub { hub in
            hub.setAvailable(true, "local processes")
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
        }
        return ProcessPlugin(maxConcurrent: Int(maxConcurrent), path: path, server: settings.server, attempts: AttemptTable(), hub: events)
    }

    func health() async throws(PluginError) -> Health {
        Health(ok: true, message: "local processes of uid \(getuid())", engineVersion: Self.version)
    }

    func capacity() async throws(PluginError) -> Capacity {
        Capacity(maxConcurrent: maxConcurrent, running: attempts.running)
    }

    func start(_ spec: ExecutionSpec) async throws(PluginError) -> RuntimeHandle {
        let argv = (spec.command ?? []) + spec.args
        guard !argv.isEmpty else { throw PluginError(.invalidSpec, "spec.command: this backend runs a command; the spec has none") }
        guard spec.files.isEmpty else { throw PluginError(.unsupported, "spec.files: this backend cannot place files") }
        var environment = spec.env
        environment["PATH"] = environment["PATH"] ?? path
        let handle = RuntimeHandle(id: "process-" + UUID().uuidString.lowercased())
        let attempt = try Attempt.spawn(
            handle: handle, labels: spec.runtimeLabels(server: server), argv: argv, environment: environment,
            workingDirectory: spec.workingDir) { [hub] status, labels in
                hub.broadcast(.status(handle: handle, labels: labels, status: status))
            }
        attempts.add(attempt)
        return handle
    }

    func inspect(_ handle: RuntimeHandle) async throws(PluginError) -> RuntimeStatus {
        try attempts.find(handle).status
    }

    func stop(_ handle: RuntimeHandle, graceSeconds: Double) async throws(PluginError) {
        let attempt = try attempts.find(handle)
        attempt.signal(SIGTERM)
        if await attempt.waitForExit(within: .milliseconds(Int64(graceSeconds * 1000))) { return }
        attempt.signal(SIGKILL)
        _ = await attempt.waitForExit(within: .seconds(30))
    }

    func remove(_ handle: RuntimeHandle) async throws(PluginError) {
        let attempt = try attempts.find(handle)
        attempt.signal(SIGKILL)
        _ = await attempt.waitForExit(within: .seconds(30))
        attempts.remove(handle)
    }

    func list(labels: [String: String]) async throws(PluginError) -> [RuntimeObject] {
        attempts.all.filter { attempt in labels.allSatisfy { attempt.labels[$0.key] == $0.value } }
            .map { RuntimeObject(handle: $0.handle, labels: $0.labels, status: $0.status) }
    }

    func logs(_ request: LogRequest) -> PluginStream<LogChunk> {
        do {
            return try attempts.find(request.handle).output(follow: request.follow, since: request.since)
        } catch {
            return PluginStream { throw error }
        }
    }

    func events() -> PluginStream<BackendEvent> {
        hub.subscribe()
    }

    func close() async {
        for attempt in attempts.all {
            attempt.signal(SIGKILL)
            _ = await attempt.waitForExit(within: .seconds(30))
        }
        hub.shutdown()
    }
}

/// The plugin's one exported symbol.
@_cdecl("berth_plugin_v1")
public func berthPluginV1() -> UnsafeRawPointer { PluginExport.descriptor(for: ProcessPlugin.self) }
