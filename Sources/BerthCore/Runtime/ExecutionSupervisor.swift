import BerthPluginKit
import Foundation
public import Logging

/// Runs scheduled executions on their hosts and records what happens to them.
///
/// For each attempt it moves the execution `scheduled → starting`, calls the host's plugin,
/// stores the runtime handle before anything else, pumps the attempt's logs into the Store in
/// batches, and turns the plugin's status reports into state changes (`running`, then
/// `succeeded` or `failed` with the exit code). Status reports come from one event stream per
/// host, and an `inspect` right after the start covers any report that came before the
/// handle was known. Each change is a conditional transition, so a report seen twice changes
/// nothing the second time. A terminal state is written only after the attempt's logs are
/// stored, so whoever sees it can read the whole output.
public actor ExecutionSupervisor {
    /// Tunables.
    public struct Options: Sendable {
        /// Seconds a terminal state waits for the log pump to finish.
        public var logDrainTimeout: Double = 10
        /// Log chunks stored per insert at most.
        public var logBatchSize: Int = 256
        /// A batch is written when its oldest chunk is this old.
        public var logBatchInterval: Duration = .milliseconds(50)
        /// Remove runtime objects once their attempt is recorded as finished.
        public var removeFinished: Bool = true

        /// Default options.
        public init() {}
    }

    private struct AttemptKey: Hashable {
        let execution: UUID
        let attempt: Int
    }

    private final class Tracker {
        let host: String
        let backend: PluginInstance
        var handle: RuntimeHandle?
        var logPump: Task<Void, Never>?
        var finished = false

        init(host: String, backend: PluginInstance) {
            self.host = host
            self.backend = backend
        }
    }

    private let store: any Store
    private let plugins: PluginHost
    private let options: Options
    private let logger: Logger
    private var trackers: [AttemptKey: Tracker] = [:]
    private var eventTasks: [Task<Void, Never>] = []

    /// A supervisor writing to `store` through the hosts of `plugins`.
    public init(store: any Store, plugins: PluginHost, options: Options = Options(), logger: Logger = Logger(label: "berth.supervisor")) {
        self.store = store
        self.plugins = plugins
        self.options = options
        self.logger = logger
    }

    /// Follows the event stream of every open host.
    public func start() async {
        for record in await plugins.hosts {
            guard case .success(let backend) = record.result else { continue }
            let host = record.configuration.name
            eventTasks.append(Task { await self.follow(backend, host: host) })
        }
    }

    /// Stops following events and log streams. Runtime objects keep running.
    public func shutdown() {
        for task in eventTasks { task.cancel() }
        eventTasks = []
        for tracker in trackers.values { tracker.logPump?.cancel() }
        trackers = [:]
    }

    private func follow(_ backend: PluginInstance, host: String) async {
        do {
            for try await event in backend.events() {
                guard case .status(_, let labels, let status) = event,
                      let id = labels[BerthLabel.execution].flatMap(UUID.init(uuidString:)),
                      let attempt = labels[BerthLabel.attempt].flatMap(Int.init)
                else {
                    if case .connection(let available, let message) = event {
                        logger.notice("host connection changed", metadata: [
                            "host": "\(host)", "available": "\(available)", "message": "\(message)",
                        ])
                    }
                    continue
                }
                await apply(status, to: AttemptKey(execution: id, attempt: attempt))
            }
        } catch {
            logger.error("event stream ended", metadata: ["host": "\(host)", "error": "\(error)"])
        }
    }

    /// Starts one attempt of a `scheduled` execution on its host.
    ///
    /// Failures are recorded on the execution (`failed` with the plugin's error code and
    /// message), never thrown: the caller has nothing else to do about them.
    public func launch(_ execution: Execution) async {
        var logger = self.logger
        logger[metadataKey: "execution"] = "\(execution.id)"
        guard execution.state == .scheduled, let host = execution.host else {
            logger.error("launch of an execution that is not scheduled", metadata: ["state": "\(execution.state)"])
            return
        }
        logger[metadataKey: "host"] = "\(host)"
        let attempt = max(execution.attempts, 1)
        let key = AttemptKey(execution: execution.id, attempt: attempt)
        let backend: PluginInstance
        do {
            backend = try await plugins.backend(forHost: host)
        } catch {
            await fail(execution.id, from: .scheduled, code: "unavailable", "host \(host) is not available: \(error.message)", attempt: attempt, logger: logger)
            return
        }
        let starting = await transition(execution.id, .scheduled, .starting, "starting on host \(host)", TransitionChanges(attempt: attempt), logger)
        guard starting else { return }
        let tracker = Tracker(host: host, backend: backend)
        trackers[key] = tracker
        let spec = ExecutionSpec(
            executionID: execution.id.uuidString.lowercased(), attempt: attempt, image: execution.image,
            command: execution.command, args: execution.args, env: execution.env, workingDir: execution.workingDir,
            labels: execution.labels, cpus: execution.cpus, memoryBytes: execution.memoryBytes)
        let handle: RuntimeHandle
        do {
            handle = try await backend.start(spec)
        } catch {
            trackers[key] = nil
            await fail(execution.id, from: .starting, code: error.code.rawValue, "start failed on host \(host): \(error.message)", attempt: attempt, logger: logger)
            return
        }
        do {
            try await store.recordAttempt(Attempt(
                executionID: execution.id, number: attempt, host: host, runtimeHandle: handle.json.jsonText, startedAt: Date()))
        } catch {
            logger.error("could not record the attempt's handle", metadata: ["error": "\(error)", "handle": "\(handle)"])
        }
        tracker.handle = handle
        tracker.logPump = Task { await self.pumpLogs(backend, handle: handle, key: key, logger: logger) }
        logger.info("attempt started", metadata: ["attempt": "\(attempt)", "handle": "\(handle)"])
        // Reports may have come before the handle was known: ask once.
        do {
            await apply(try await backend.inspect(handle), to: key)
        } catch {
            logger.warning("inspect after start failed", metadata: ["error": "\(error)"])
        }
    }

    private func apply(_ status: RuntimeStatus, to key: AttemptKey) async {
        guard let tracker = trackers[key], let handle = tracker.handle, !tracker.finished else { return }
        var logger = self.logger
        logger[metadataKey: "execution"] = "\(key.execution)"
        logger[metadataKey: "host"] = "\(tracker.host)"
        let id = key.execution
        switch status.state {
        case .created:
            return
        case .running:
            _ = await transition(id, .starting, .running, "running on host \(tracker.host)",
                                 TransitionChanges(attempt: key.attempt, startedAt: status.startedAt.map(Self.date)), logger)
        case .exited, .failed:
            tracker.finished = true
            await drainLogs(tracker, logger: logger)
            if status.state == .failed {
                let reason = status.reason ?? "the engine could not run it"
                for from in [ExecutionState.starting, .running] {
                    if await fail(id, from: from, code: "engine_error", "host \(tracker.host): \(reason)", attempt: key.attempt, logger: logger) { break }
                }
            } else {
                _ = await transition(id, .starting, .running, "running on host \(tracker.host)",
                                     TransitionChanges(attempt: key.attempt, startedAt: status.startedAt.map(Self.date)), logger)
                let code = status.exitCode ?? -1
                let detail = status.reason.map { " (\($0))" } ?? ""
                let changes = TransitionChanges(
                    exitCode: code,
                    error: code == 0 ? nil : ExecutionFailure(code: "exit_code", message: "exit code \(code)\(detail)"),
                    attempt: key.attempt, finishedAt: status.finishedAt.map(Self.date))
                _ = await transition(id, .running, code == 0 ? .succeeded : .failed, "exit code \(code)\(detail)", changes, logger)
            }
            try? await store.finishAttempt(executionID: id, number: key.attempt, at: status.finishedAt.map(Self.date) ?? Date())
            trackers[key] = nil
            if options.removeFinished {
                do {
                    try await tracker.backend.remove(handle)
                } catch {
                    logger.warning("could not remove the finished attempt", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    private func drainLogs(_ tracker: Tracker, logger: Logger) async {
        guard let pump = tracker.logPump else { return }
        let timeout = options.logDrainTimeout
        let timedOut = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await pump.value; return false }
            group.addTask { try? await Task.sleep(for: .seconds(timeout)); return true }
            let first = await group.next() ?? true
            group.cancelAll()
            return first
        }
        if timedOut {
            logger.warning("log stream did not end in time; recording the end without the rest", metadata: ["timeout": "\(timeout)"])
            pump.cancel()
        }
    }

    private func pumpLogs(_ backend: PluginInstance, handle: RuntimeHandle, key: AttemptKey, logger: Logger) async {
        let clock = ContinuousClock()
        var batch: [NewLogChunk] = []
        var batchStarted = clock.now
        do {
            for try await chunk in backend.logs(LogRequest(handle: handle, follow: true)) {
                if batch.isEmpty { batchStarted = clock.now }
                batch.append(NewLogChunk(
                    executionID: key.execution, attempt: key.attempt, stream: chunk.stream, bytes: chunk.data,
                    timestamp: Self.date(chunk.timestamp)))
                if batch.count >= options.logBatchSize || clock.now - batchStarted >= options.logBatchInterval {
                    await store(batch, logger: logger)
                    batch.removeAll(keepingCapacity: true)
                }
            }
        } catch {
            logger.error("log stream failed", metadata: ["error": "\(error)"])
        }
        await store(batch, logger: logger)
    }

    private func store(_ batch: [NewLogChunk], logger: Logger) async {
        guard !batch.isEmpty else { return }
        do {
            try await store.appendLogs(batch)
        } catch {
            logger.error("could not store log chunks", metadata: ["error": "\(error)", "chunks": "\(batch.count)"])
        }
    }

    @discardableResult
    private func transition(
        _ id: UUID, _ from: ExecutionState, _ to: ExecutionState, _ reason: String, _ changes: TransitionChanges, _ logger: Logger
    ) async -> Bool {
        do {
            let outcome = try await store.transition(id, from: from, to: to, reason: reason, changes: changes)
            if outcome.didWin { logger.info("state changed", metadata: ["from": "\(from)", "to": "\(to)", "reason": "\(reason)"]) }
            return outcome.didWin
        } catch {
            logger.error("could not record a state change", metadata: ["from": "\(from)", "to": "\(to)", "error": "\(error)"])
            return false
        }
    }

    @discardableResult
    private func fail(_ id: UUID, from: ExecutionState, code: String, _ message: String, attempt: Int, logger: Logger) async -> Bool {
        await transition(id, from, .failed, message, TransitionChanges(error: ExecutionFailure(code: code, message: message), attempt: attempt), logger)
    }

    private static func date(_ timestamp: Timestamp) -> Date {
        Date(timeIntervalSince1970: timestamp.secondsSinceEpoch)
    }
}
