import BerthCore
import BerthPluginKit
import Hummingbird
import Logging
import Synchronization

/// `GET /v1/hosts`, `GET /v1/plugins` and `GET /readyz`.
enum SystemStatus {
    /// How long one host's health or capacity call may take before the listing moves on.
    static let hostCallTimeout: Duration = .seconds(2)

    /// Every configured host, asked for health and capacity concurrently, each call bounded by
    /// `timeout` (``hostCallTimeout`` unless told) so one slow host does not stall the list.
    static func hosts(_ plugins: PluginHost, timeout: Duration = hostCallTimeout) async -> [JSONValue] {
        await eachHost(await plugins.hosts) { await describe($0, timeout: timeout) }
    }

    /// `body` of every host record at once, in the records' order.
    static func eachHost<Value: Sendable>(
        _ records: [PluginHost.HostRecord], _ body: @escaping @Sendable (PluginHost.HostRecord) async -> Value
    ) async -> [Value] {
        await withTaskGroup(of: (Int, Value).self) { group in
            for (index, record) in records.enumerated() {
                group.addTask { (index, await body(record)) }
            }
            var values = [Value?](repeating: nil, count: records.count)
            for await (index, value) in group { values[index] = value }
            return values.map { $0! }
        }
    }

    private static func describe(_ record: PluginHost.HostRecord, timeout: Duration) async -> JSONValue {
        var object: [String: JSONValue] = [
            "name": .string(record.configuration.name),
            "plugin": .string(record.configuration.plugin),
            "health": .null, "capacity": .null, "error": .null,
        ]
        switch record.result {
        case .failure(let error):
            object["health"] = ["ok": false, "message": .string(error.message)]
            object["error"] = ["code": .string(error.code.rawValue), "message": .string(error.description)]
        case .success(let instance):
            async let health = health(of: instance, timeout: timeout)
            async let capacity = withTimeout(timeout) { () async -> Result<Capacity, PluginError> in
                do throws(PluginError) { return .success(try await instance.capacity()) } catch { return .failure(error) }
            }
            let (ok, message) = await health
            object["health"] = ["ok": .bool(ok), "message": .string(message)]
            if case .success(let capacity)? = await capacity {
                object["capacity"] = [
                    "max_concurrent": .number(Double(capacity.maxConcurrent)), "running": .number(Double(capacity.running)),
                ]
            }
        }
        return .object(object)
    }

    /// Whether a host answers its health check within ``hostCallTimeout``, and what it says
    /// (or why it did not answer).
    static func health(of record: PluginHost.HostRecord) async -> (ok: Bool, message: String) {
        switch record.result {
        case .failure(let error): (false, error.message)
        case .success(let instance): await health(of: instance, timeout: hostCallTimeout)
        }
    }

    private static func health(of instance: PluginInstance, timeout: Duration) async -> (ok: Bool, message: String) {
        let answer = await withTimeout(timeout) { () async -> Result<Health, PluginError> in
            do throws(PluginError) { return .success(try await instance.health()) } catch { return .failure(error) }
        }
        switch answer {
        case .success(let health)?: return (health.ok, health.message)
        case .failure(let error)?: return (false, error.description)
        case nil: return (false, "no answer within \(timeout.components.seconds) seconds")
        }
    }

    /// Every plugin file examined, loaded or not.
    static func plugins(_ plugins: PluginHost) async -> [JSONValue] {
        await plugins.plugins.map { record in
            switch record.result {
            case .success(let plugin):
                [
                    "file": .string(record.file), "name": .string(plugin.name), "version": .string(plugin.version),
                    "abi_version": .number(Double(plugin.abiVersion)), "loaded": true, "error": .null,
                ]
            case .failure(let error):
                [
                    "file": .string(record.file), "name": .null, "version": .null, "abi_version": .null,
                    "loaded": false, "error": .string(error.message),
                ]
            }
        }
    }

    /// 200 when the database answers a cheap query and the plugin host has started; else 503.
    static func ready(_ context: ServerContext, logger: Logger) async throws -> Response {
        do {
            _ = try await context.store.hosts()
        } catch {
            logger.warning("not ready: database", metadata: ["error": "\(error)"])
            throw Problem(.serviceUnavailable, code: "not_ready", title: "Not ready", detail: "the database does not answer")
        }
        let loaded = await context.plugins.plugins
        let opened = await context.plugins.hosts
        let started = !loaded.isEmpty || !opened.isEmpty
        guard started else {
            throw Problem(.serviceUnavailable, code: "not_ready", title: "Not ready",
                          detail: "the plugin host has not started (no plugin loaded, no host opened)")
        }
        return JSONBody.response(["status": "ready", "checks": ["database": "ok", "plugins": "ok"]])
    }

    /// The result of `operation`, or `nil` when it takes longer than `timeout`. The operation
    /// runs in its own task, so one that ignores cancellation does not hold the caller.
    static func withTimeout<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async -> T) async -> T? {
        let once = Once<T?>()
        return await withCheckedContinuation { continuation in
            once.set(continuation)
            let work = Task {
                let value = await operation()
                once.resume(value)
            }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                if once.resume(nil) { work.cancel() }
            }
            once.onResume(timer)
        }
    }
}

/// Resumes a continuation exactly once, from whichever side comes first.
private final class Once<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, Never>?
        var timer: Task<Void, Never>?
        var done = false
    }
    private let state = Mutex(State())

    func set(_ continuation: CheckedContinuation<T, Never>) {
        state.withLock { $0.continuation = continuation }
    }

    /// Cancels `timer` when the value arrives (now, if it already has).
    func onResume(_ timer: Task<Void, Never>) {
        let done = state.withLock { state in
            state.timer = timer
            return state.done
        }
        if done { timer.cancel() }
    }

    /// Resumes with `value` if nothing did yet; returns whether this call did.
    @discardableResult
    func resume(_ value: T) -> Bool {
        let (continuation, timer) = state.withLock { state -> (CheckedContinuation<T, Never>?, Task<Void, Never>?) in
            guard !state.done else { return (nil, nil) }
            state.done = true
            defer { state.continuation = nil }
            return (state.continuation, state.timer)
        }
        guard let continuation else { return false }
        continuation.resume(returning: value)
        timer?.cancel()
        return true
    }
}
