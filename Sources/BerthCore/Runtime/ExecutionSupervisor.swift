import BerthPluginKit
public import Foundation
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
        /// How often an attempt's buffered log chunks are written, in one insert.
        public var logBatchInterval: Duration = .milliseconds(50)
        /// Remove runtime objects once their attempt is recorded as finished.
        public var removeFinished: Bool = true
        /// How long a runtime object that no execution owns is left alone before reconciliation
        /// removes it (a start racing with the reconciliation is not mistaken for one).
        public var orphanGrace: Duration = .seconds(60)

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
        /// Set by ``ExecutionSupervisor/stop(executionID:graceSeconds:)`` before the handle is
        /// known: the attempt is stopped with this grace as soon as `start` returns.
        var stopGrace: Double?

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
    private var started = false
    /// Runtime objects without an owner, by handle, and when reconciliation first saw them so.
    private var orphansSeen: [String: ContinuousClock.Instant] = [:]

    /// A supervisor writing to `store` through the hosts of `plugins`.
    public init(store: any Store, plugins: PluginHost, options: Options = Options(), logger: Logger = Logger(label: "berth.supervisor")) {
        self.store = store
        self.plugins = plugins
        self.options = options
        self.logger = logger
    }

    /// Follows the event stream of every open host. Calling it again does nothing.
    public func start() async {
        guard !started else { return }
        started = true
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
        started = false
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
                        if available { Task { await self.reconcile(host: host, backend: backend) } }
                    }
                    continue
                }
                await apply(status, to: AttemptKey(execution: id, attempt: attempt))
            }
        } catch {
            logger.error("event stream ended", metadata: ["host": "\(host)", "error": "\(error)"])
        }
    }

    /// Reconciles one host with the Store, at start-up and after every reconnection (the event
    /// stream's `connection` event), by Berth's labels:
    ///
    /// - an attempt this supervisor follows is inspected, so what ended while the link was down
    ///   is recorded;
    /// - an unfinished attempt it does not follow (this server restarted) is adopted when its
    ///   runtime object still exists: its logs are followed on from the last stored chunk and its
    ///   status applied, so one that ended meanwhile is recorded with its exit code and logs;
    /// - an unfinished attempt whose object vanished ends its execution as `lost`;
    /// - an object no unfinished execution owns is removed once it has been seen so for
    ///   ``Options/orphanGrace`` (logged).
    func reconcile(host: String, backend: PluginInstance) async {
        var logger = self.logger
        logger[metadataKey: "host"] = "\(host)"
        let objects: [RuntimeObject]
        let attempts: [Attempt]
        do {
            objects = try await backend.list(labels: [BerthLabel.server: plugins.configuration.serverID])
            attempts = try await store.unfinishedAttempts().filter { $0.host == host }
        } catch {
            logger.warning("could not reconcile the host", metadata: ["error": "\(error)"])
            return
        }
        var byAttempt: [AttemptKey: RuntimeObject] = [:]
        for object in objects {
            guard let id = object.labels[BerthLabel.execution].flatMap(UUID.init(uuidString:)),
                  let number = object.labels[BerthLabel.attempt].flatMap(Int.init)
            else { continue }
            byAttempt[AttemptKey(execution: id, attempt: number)] = object
        }
        var owned: Set<AttemptKey> = []
        for attempt in attempts {
            let key = AttemptKey(execution: attempt.executionID, attempt: attempt.number)
            owned.insert(key)
            // Each await lets events in: re-read the trackers every time.
            if let tracker = trackers[key] {
                guard !tracker.finished, let handle = tracker.handle else { continue }
                do {
                    await apply(try await backend.inspect(handle), to: key)
                } catch {
                    guard let still = trackers[key], !still.finished else { continue }
                    logger.warning("could not inspect an attempt after the host came back", metadata: [
                        "execution": "\(key.execution)", "error": "\(error)",
                    ])
                }
                continue
            }
            guard let execution = try? await store.execution(id: attempt.executionID), trackers[key] == nil else { continue }
            if execution.state.isTerminal || execution.attempts != attempt.number {
                // Decided already (cancelled, timed out): the attempt only needs closing.
                try? await store.finishAttempt(executionID: key.execution, number: key.attempt, at: Date())
                owned.remove(key)
                continue
            }
            if let object = byAttempt[key] {
                await adopt(object, key: key, host: host, backend: backend)
            } else {
                var attemptLogger = logger
                attemptLogger[metadataKey: "execution"] = "\(key.execution)"
                let reason = "the runtime object of attempt \(key.attempt) on host \(host) no longer exists"
                for from in [ExecutionState.running, .starting, .scheduled] {
                    let changes = TransitionChanges(
                        error: ExecutionFailure(code: "lost", message: reason), attempt: key.attempt)
                    if await transition(key.execution, from, .lost, reason, changes, attemptLogger) { break }
                }
                try? await store.finishAttempt(executionID: key.execution, number: key.attempt, at: Date())
            }
        }
        // Objects kept on purpose (removeFinished off) are not orphans to remove.
        guard options.removeFinished else { return }
        await removeOrphans(byAttempt.filter { !owned.contains($0.key) && trackers[$0.key] == nil }, backend: backend, logger: logger)
    }

    /// Follows an attempt this supervisor did not start (found running or ended by reconciliation).
    private func adopt(_ object: RuntimeObject, key: AttemptKey, host: String, backend: PluginInstance) async {
        var logger = self.logger
        logger[metadataKey: "execution"] = "\(key.execution)"
        logger[metadataKey: "host"] = "\(host)"
        let tracker = Tracker(host: host, backend: backend)
        tracker.handle = object.handle
        trackers[key] = tracker
        followLogs(tracker, key: key, handle: object.handle, resume: await storedLogsEnd(key), logger: logger)
        logger.notice("adopted an attempt", metadata: ["attempt": "\(key.attempt)", "state": "\(object.status.state)"])
        await apply(object.status, to: key)
    }

    /// Starts the log pump that stores the attempt's followed output from `resume` on.
    private func followLogs(_ tracker: Tracker, key: AttemptKey, handle: RuntimeHandle, resume: LogResumePoint, logger: Logger) {
        let backend = tracker.backend
        let logs: @Sendable (Timestamp?) -> PluginStream<LogChunk> = { since in
            backend.logs(LogRequest(handle: handle, follow: true, since: since))
        }
        let pump = LogPump(store: store, interval: options.logBatchInterval, logger: logger)
        tracker.logPump = Task { await pump.run(logs, execution: key.execution, attempt: key.attempt, resume: resume) }
    }

    /// Where the stored logs of an attempt end: after the chunks with the newest timestamp
    /// (PostgreSQL keeps microseconds, so timestamps are compared at that precision).
    private func storedLogsEnd(_ key: AttemptKey) async -> LogResumePoint {
        var after: Int64?
        var newest: Date?
        var atNewest = 0
        while true {
            guard let page = try? await store.logs(LogQuery(executionID: key.execution, attempt: key.attempt, afterSeq: after, limit: 10_000)),
                  !page.isEmpty
            else { break }
            for chunk in page {
                if newest == nil || chunk.timestamp > newest! {
                    newest = chunk.timestamp
                    atNewest = 1
                } else if chunk.timestamp == newest {
                    atNewest += 1
                }
            }
            after = page.last?.seq
            if page.count < 10_000 { break }
        }
        guard let newest else { return LogResumePoint() }
        let micros = Int64((newest.timeIntervalSince1970 * 1_000_000).rounded())
        return LogResumePoint(since: Timestamp(nanosecondsSinceEpoch: micros * 1000), alreadyDelivered: atNewest, granularity: 1000)
    }

    /// Removes runtime objects no unfinished execution owns, once seen so for the grace period.
    private func removeOrphans(_ orphans: [AttemptKey: RuntimeObject], backend: PluginInstance, logger: Logger) async {
        let now = ContinuousClock.now
        let current = Set(orphans.values.map(\.handle.json.jsonText))
        orphansSeen = orphansSeen.filter { current.contains($0.key) }
        for (key, object) in orphans {
            let id = object.handle.json.jsonText
            let firstSeen = orphansSeen[id] ?? now
            orphansSeen[id] = firstSeen
            guard now - firstSeen >= options.orphanGrace else { continue }
            do {
                try await backend.remove(object.handle)
                orphansSeen[id] = nil
                logger.notice("removed a runtime object no execution owns", metadata: [
                    "execution": "\(key.execution)", "attempt": "\(key.attempt)", "handle": "\(object.handle)",
                    "state": "\(object.status.state)",
                ])
            } catch {
                logger.warning("could not remove an orphaned runtime object", metadata: ["handle": "\(object.handle)", "error": "\(error)"])
            }
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
        guard trackers[key] == nil else {
            logger.debug("attempt already being launched", metadata: ["attempt": "\(attempt)"])
            return
        }
        let backend: PluginInstance
        do {
            backend = try await plugins.backend(forHost: host)
        } catch {
            await fail(execution.id, from: .scheduled, code: "unavailable", "host \(host) is not available: \(error.message)", attempt: attempt, logger: logger)
            return
        }
        // Tracked before the change to `starting`, so a stop that comes while the change is
        // being written finds the attempt and is applied once the handle is known.
        let tracker = Tracker(host: host, backend: backend)
        trackers[key] = tracker
        let starting = await transition(execution.id, .scheduled, .starting, "starting on host \(host)", TransitionChanges(attempt: attempt), logger)
        guard starting else {
            if trackers[key] === tracker { trackers[key] = nil }
            return
        }
        let spec = ExecutionSpec(
            executionID: execution.id.uuidString.lowercased(), attempt: attempt, image: execution.image,
            command: execution.command, args: execution.args, env: execution.env, workingDir: execution.workingDir,
            labels: execution.labels, cpus: execution.cpus, memoryBytes: execution.memoryBytes,
            timeoutSeconds: execution.timeoutSeconds)
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
        followLogs(tracker, key: key, handle: handle, resume: LogResumePoint(), logger: logger)
        logger.info("attempt started", metadata: ["attempt": "\(attempt)", "handle": "\(handle)"])
        if tracker.stopGrace == nil, let current = try? await store.execution(id: execution.id), current.state.isTerminal {
            // Ended elsewhere while starting (cancelled through another server): stop it too.
            tracker.stopGrace = 10
        }
        if let grace = tracker.stopGrace {
            // Cancelled or timed out while starting: stop it now; its end is recorded as usual.
            await stopAttempt(backend, handle, graceSeconds: grace, logger: logger)
        }
        // Reports may have come before the handle was known: ask once.
        do {
            await apply(try await backend.inspect(handle), to: key)
        } catch {
            logger.warning("inspect after start failed", metadata: ["error": "\(error)"])
        }
    }

    /// Stops the running attempt of an execution and returns once the stop was delivered.
    ///
    /// The caller writes the execution's final state (`cancelled`, `timed_out`) first; the
    /// attempt's own end then loses its conditional transition, while the supervisor still
    /// drains its logs, marks the attempt finished and removes the runtime object.
    /// An attempt still starting is stopped as soon as its handle is known. An attempt this
    /// supervisor does not follow (started by another server) is stopped through the handle
    /// stored with the execution's current attempt.
    /// - Parameters:
    ///   - executionID: The execution.
    ///   - graceSeconds: Time the engine gives the process between the stop signal and the kill.
    /// - Returns: Whether an attempt to stop was found.
    @discardableResult
    public func stop(executionID: UUID, graceSeconds: Double) async -> Bool {
        var logger = self.logger
        logger[metadataKey: "execution"] = "\(executionID)"
        let local = trackers.filter { $0.key.execution == executionID }.map(\.value)
        if !local.isEmpty {
            for tracker in local {
                if let handle = tracker.handle {
                    await stopAttempt(tracker.backend, handle, graceSeconds: graceSeconds, logger: logger)
                } else {
                    tracker.stopGrace = graceSeconds
                }
            }
            return true
        }
        guard let execution = try? await store.execution(id: executionID), let attempt = execution.currentAttempt,
              let json = try? JSONValue(parsing: attempt.runtimeHandle)
        else { return false }
        do {
            let backend = try await plugins.backend(forHost: attempt.host)
            await stopAttempt(backend, RuntimeHandle(json: json), graceSeconds: graceSeconds, logger: logger)
            return true
        } catch {
            logger.warning("cannot stop the attempt: its host is not available", metadata: ["error": "\(error)"])
            return false
        }
    }

    private func stopAttempt(_ backend: PluginInstance, _ handle: RuntimeHandle, graceSeconds: Double, logger: Logger) async {
        do {
            try await backend.stop(handle, graceSeconds: graceSeconds)
            logger.info("attempt stopped", metadata: ["handle": "\(handle)"])
        } catch {
            logger.warning("could not stop the attempt", metadata: ["handle": "\(handle)", "error": "\(error)"])
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
            // Still waiting on the host (an unschedulable pod, an image pull): say what for.
            if let reason = status.reason {
                do {
                    try await store.updateStateReasons([id: "waiting on host \(tracker.host): \(reason)"], whileIn: .starting)
                } catch {
                    logger.warning("could not record what the attempt waits for", metadata: ["error": "\(error)"])
                }
            }
        case .running:
            _ = await transition(id, .starting, .running, "running on host \(tracker.host)",
                                 TransitionChanges(attempt: key.attempt, startedAt: status.startedAt.map(Self.date)), logger)
        case .exited, .failed:
            tracker.finished = true
            await drainLogs(tracker, logger: logger)
            if status.state == .failed {
                let reason = status.reason ?? "the engine could not run it"
                for from in [ExecutionState.starting, .running] {
                    let code = status.errorCode?.rawValue ?? "engine_error"
                    if await fail(id, from: from, code: code, "host \(tracker.host): \(reason)", attempt: key.attempt, logger: logger) { break }
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
