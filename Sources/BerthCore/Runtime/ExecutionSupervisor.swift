import BerthPluginKit
public import Foundation
public import Logging

/// Runs scheduled executions on their hosts and records what happens to them.
///
/// For each attempt it moves the execution `scheduled → starting`, calls the host's plugin,
/// stores the runtime handle before anything else, pumps the attempt's logs into the Store in
/// batches, and turns the plugin's status reports into state changes (`running`, then
/// `succeeded` or `failed` with the exit code). Status reports come from one event stream per
/// host; a report that comes before the handle is known is kept and applied once it is, and
/// when none came, an `inspect` right after the start covers the gap. Each change is a
/// conditional transition, so a report seen twice changes nothing the second time. A terminal
/// state is written only after the attempt's logs are stored, so whoever sees it can read the
/// whole output.
///
/// Only the scheduling leader supervises: the ``Scheduler`` calls ``start()`` when it becomes
/// the leader and ``shutdown()`` when it stops being it, so two servers never follow (and
/// store the logs of) the same attempt. A failed or lost attempt goes back to `queued` when the
/// execution's ``RetryPolicy`` allows another one (see `endAttempt`).
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
        /// How often each host is reconciled besides at start and at every reconnection (so an
        /// orphan is removed once its grace has passed, and nothing is missed for long).
        public var reconcileInterval: Duration = .seconds(30)
        /// Where an execution's inline config is written in its container before it starts.
        public var configPath = "/berth/in/config.json"
        /// The folder collected from an ended attempt's container (as a tar archive); its
        /// `result.json` is the execution's result. `nil` collects nothing.
        public var outputsPath: String? = "/berth/out"
        /// The most bytes of collected outputs kept per attempt; past it none are kept.
        public var maxArtifactBytes: Int64 = 100 << 20
        /// How long after it finished an execution keeps its logs, collected outputs and (with
        /// `keep`) runtime objects; `nil` keeps them for ever.
        public var retention: Duration? = .seconds(7 * 86_400)
        /// How often expired outputs are looked for.
        public var retentionSweepInterval: Duration = .seconds(60)

        /// Default options.
        public init() {}
    }

    struct AttemptKey: Hashable {
        let execution: UUID
        let attempt: Int
    }

    final class Tracker {
        let host: String
        let backend: PluginInstance
        var handle: RuntimeHandle?
        var logPump: Task<Void, Never>?
        var finished = false
        /// Set by ``ExecutionSupervisor/stop(executionID:graceSeconds:)`` before the handle is
        /// known: the attempt is stopped with this grace as soon as `start` returns.
        var stopGrace: Double?
        /// The newest status reported before the handle was known (the engine's event can come
        /// before `start` returns); applied as soon as it is.
        var earlyStatus: RuntimeStatus?
        /// `starting → running` was written for this attempt (by this supervisor).
        var recordedRunning = false
        /// The execution asked to keep its finished runtime object (`keep`).
        let keep: Bool

        init(host: String, backend: PluginInstance, keep: Bool) {
            self.host = host
            self.backend = backend
            self.keep = keep
        }
    }

    let store: any Store
    let plugins: PluginHost
    let options: Options
    let logger: Logger
    /// Opens sealed secret environments when an attempt starts.
    let sealer: (any SecretSealer)?
    var trackers: [AttemptKey: Tracker] = [:]
    private var eventTasks: [Task<Void, Never>] = []
    /// Whether this supervisor supervises now (between ``start()`` and ``shutdown()``).
    public private(set) var isSupervising = false
    /// Runtime objects without an owner, by handle, and when reconciliation first saw them so.
    var orphansSeen: [String: ContinuousClock.Instant] = [:]
    /// Hosts being reconciled now, and whether another pass was asked for meanwhile.
    var reconciling: [String: Bool] = [:]
    /// Called when an attempt's container has ended, before its logs and outputs are stored
    /// (see ``setSlotFreedHandler(_:)``).
    private var slotFreed: (@Sendable () async -> Void)?

    /// A supervisor writing to `store` through the hosts of `plugins`, opening secret
    /// environments with `sealer`.
    public init(
        store: any Store, plugins: PluginHost, options: Options = Options(), sealer: (any SecretSealer)? = nil,
        logger: Logger = Logger(label: "berth.supervisor")
    ) {
        self.store = store
        self.plugins = plugins
        self.options = options
        self.sealer = sealer
        self.logger = logger
    }

    /// Starts supervising: follows the event stream of every open host and reconciles each
    /// host with the Store (again at every reconnection). Calling it again does nothing.
    public func start() async {
        guard !isSupervising else { return }
        isSupervising = true
        for record in await plugins.hosts {
            guard case .success(let backend) = record.result else { continue }
            let host = record.configuration.name
            eventTasks.append(Task { await self.follow(backend, host: host) })
            let interval = options.reconcileInterval
            eventTasks.append(Task {
                repeat {
                    await self.reconcile(host: host, backend: backend)
                    try? await Task.sleep(for: interval)
                } while !Task.isCancelled
            })
        }
        if options.retention != nil {
            let interval = options.retentionSweepInterval
            eventTasks.append(Task {
                repeat {
                    await self.expireOutputs(now: Date())
                    try? await Task.sleep(for: interval)
                } while !Task.isCancelled
            })
        }
    }

    /// Stops supervising: stops following events and log streams. Runtime objects keep
    /// running, for whoever supervises next (this server again, or another one) to adopt.
    ///
    /// Returns once every log pump has written what it had read: the next supervisor resumes
    /// each attempt's logs after the last stored chunk, so a write that came later would store
    /// output twice.
    public func shutdown() async {
        for task in eventTasks { task.cancel() }
        eventTasks = []
        isSupervising = false
        let pumps = trackers.values.compactMap(\.logPump)
        trackers = [:]
        reconciling = [:]
        for pump in pumps { pump.cancel() }
        for pump in pumps { await pump.value }
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
                let key = AttemptKey(execution: id, attempt: attempt)
                if status.isFinal {
                    // Recording an end waits for the logs, the outputs and the removal: the
                    // host's next reports (other attempts' ends among them) must not wait too.
                    Task { await self.apply(status, to: key) }
                } else {
                    await apply(status, to: key)
                }
            }
        } catch {
            logger.error("event stream ended", metadata: ["host": "\(host)", "error": "\(error)"])
        }
    }

    /// Starts one attempt of a `scheduled` execution on its host, and returns once the host
    /// answered.
    ///
    /// Failures are recorded on the execution (`failed` with the plugin's error code and
    /// message), never thrown: the caller has nothing else to do about them.
    public func launch(_ execution: Execution) async {
        guard let begun = await begin(execution) else { return }
        await start(execution, key: begun.key, tracker: begun.tracker, logger: begun.logger)
    }

    /// Launches `executions` in their order: each one is `starting` before the next one is,
    /// but the hosts' answers are not waited for (a Docker create and start take hundreds of
    /// milliseconds on a busy engine, and the next execution's slot is free meanwhile).
    public func launch(inOrder executions: [Execution]) async {
        for execution in executions {
            guard let begun = await begin(execution) else { continue }
            Task { await self.start(execution, key: begun.key, tracker: begun.tracker, logger: begun.logger) }
        }
    }

    /// Tracks an attempt of a `scheduled` execution and moves it to `starting`; `nil` when
    /// it is not this supervisor's to start (already launched, moved on, host not open).
    private func begin(_ execution: Execution) async -> (key: AttemptKey, tracker: Tracker, logger: Logger)? {
        var logger = self.logger
        logger[metadataKey: "execution"] = "\(execution.id)"
        guard execution.state == .scheduled, let host = execution.host else {
            logger.error("launch of an execution that is not scheduled", metadata: ["state": "\(execution.state)"])
            return nil
        }
        logger[metadataKey: "host"] = "\(host)"
        let attempt = max(execution.attempts, 1)
        let key = AttemptKey(execution: execution.id, attempt: attempt)
        guard trackers[key] == nil else {
            logger.debug("attempt already being launched", metadata: ["attempt": "\(attempt)"])
            return nil
        }
        let backend: PluginInstance
        do {
            backend = try await plugins.backend(forHost: host)
        } catch {
            let failure = ExecutionFailure(code: "unavailable", message: "host \(host) is not available: \(error.message)")
            await endAttempt(key, from: .scheduled, to: .failed, failure, logger: logger)
            return nil
        }
        // Tracked before the change to `starting`, so a stop that comes while the change is
        // being written finds the attempt and is applied once the handle is known.
        let tracker = Tracker(host: host, backend: backend, keep: execution.keep)
        trackers[key] = tracker
        let starting = await transition(execution.id, .scheduled, .starting, "starting on host \(host)", TransitionChanges(attempt: attempt), logger)
        guard starting else {
            untrack(key, tracker)
            return nil
        }
        return (key, tracker, logger)
    }

    /// Asks the host to start an attempt of a `starting` execution (the plugin adopts an object
    /// it already has for this execution and attempt, so asking twice starts it once), records
    /// its handle and follows it.
    func start(_ execution: Execution, key: AttemptKey, tracker: Tracker, logger: Logger) async {
        let host = tracker.host
        let backend = tracker.backend
        let attempt = key.attempt
        var env = execution.env
        if let sealed = execution.sealedSecretEnv {
            // Opened only here, into the spec for the plugin; never logged.
            do throws(SecretError) {
                guard let sealer else { throw SecretError("this server holds no secrets key") }
                env.merge(try sealer.openEnvironment(sealed)) { _, secret in secret }
            } catch {
                let failure = ExecutionFailure(code: "secret_unavailable", message: "the secret environment cannot be opened: \(error.description)")
                await endAttempt(key, from: .starting, to: .failed, failure, logger: logger)
                untrack(key, tracker)
                return
            }
        }
        let spec = ExecutionSpec(
            executionID: execution.id.uuidString.lowercased(), attempt: attempt, image: execution.image,
            command: execution.command, args: execution.args, env: env, workingDir: execution.workingDir,
            labels: execution.labels, cpus: execution.cpus, memoryBytes: execution.memoryBytes,
            timeoutSeconds: execution.timeoutSeconds,
            // A text file ends with a newline: `cat config.json; echo "::berth::…"` then starts a line.
            files: execution.config.map { [SpecFile(path: options.configPath, data: Array(($0 + "\n").utf8))] } ?? [])
        let handle: RuntimeHandle
        do {
            handle = try await backend.start(spec)
        } catch {
            if error.code == .unavailable || error.code == .timeout {
                untrack(key, tracker)
                // The start may or may not have reached the engine: find out before deciding.
                unconfirmedStart(execution.id, key: key, host: host, backend: backend, error: error, logger: logger)
                return
            }
            // Tracked until the end is recorded: a reconciliation pass meanwhile would otherwise
            // take the attempt for one whose server died inside the start, and queue it again.
            let failure = ExecutionFailure(code: error.code.rawValue, message: "start failed on host \(host): \(error.message)")
            await endAttempt(key, from: .starting, to: .failed, failure, retryable: RetryPolicy.isEngineFailure(code: error.code.rawValue), logger: logger)
            untrack(key, tracker)
            return
        }
        // Recording the handle also says whether the execution ended elsewhere while starting.
        let record = Attempt(executionID: execution.id, number: attempt, host: host, runtimeHandle: handle.json.jsonText, startedAt: Date())
        var current: ExecutionState?
        do {
            current = try await store.recordAttempt(record)
        } catch {
            logger.error("could not record the attempt's handle", metadata: ["error": "\(error)", "handle": "\(handle)"])
        }
        guard trackers[key] === tracker else {
            // Supervision moved on while it started (leadership lost): whoever leads next adopts it.
            logger.notice("attempt started after supervision stopped; left for the next leader", metadata: ["attempt": "\(attempt)"])
            return
        }
        tracker.handle = handle
        followLogs(tracker, key: key, handle: handle, resume: LogResumePoint(), logger: logger)
        logger.info("attempt started", metadata: ["attempt": "\(attempt)", "handle": "\(handle)"])
        if tracker.stopGrace == nil, current?.isTerminal == true, !tracker.finished {
            // Ended elsewhere while starting (cancelled through another server): stop it too.
            tracker.stopGrace = 10
        }
        // The host's event stream reported on the attempt before `start` returned: use that at
        // once; every later report comes through the same stream, so no inspect is needed.
        let early = tracker.earlyStatus
        if let early {
            tracker.earlyStatus = nil
            if tracker.stopGrace == nil || early.isFinal { await apply(early, to: key) }
        }
        // A short run may have ended (and been removed) while the above awaited: nothing to ask.
        guard !tracker.finished else { return }
        if let grace = tracker.stopGrace {
            // Cancelled or timed out while starting: stop it now; its end is recorded as usual.
            await stopAttempt(backend, handle, graceSeconds: grace, logger: logger)
        }
        guard early == nil else { return }
        // No event came before the handle was known (or none was kept): ask once, now that
        // every later one is applied.
        do {
            await apply(try await backend.inspect(handle), to: key)
        } catch {
            logger.warning("inspect after start failed", metadata: ["error": "\(error)"])
        }
    }

    /// Forgets `tracker` unless another attempt's tracker took its place meanwhile.
    func untrack(_ key: AttemptKey, _ tracker: Tracker) {
        if trackers[key] === tracker { trackers[key] = nil }
    }

    /// Starts the log pump that stores the attempt's followed output from `resume` on.
    func followLogs(_ tracker: Tracker, key: AttemptKey, handle: RuntimeHandle, resume: LogResumePoint, logger: Logger) {
        let backend = tracker.backend
        let logs: @Sendable (Timestamp?) -> PluginStream<LogChunk> = { since in
            backend.logs(LogRequest(handle: handle, follow: true, since: since))
        }
        let pump = LogPump(store: store, interval: options.logBatchInterval, logger: logger)
        tracker.logPump = Task { await pump.run(logs, execution: key.execution, attempt: key.attempt, resume: resume) }
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

    /// Executions whose attempt's container has ended while the supervisor still stores its
    /// logs and outputs: they are still `running` in the Store, but hold no slot on their host.
    public var endingExecutions: Set<UUID> {
        var ending = Set<UUID>()
        for (key, tracker) in trackers where tracker.finished { ending.insert(key.execution) }
        return ending
    }

    /// Sets what is called each time an attempt's container ends, before its logs and outputs
    /// are stored (the scheduler places the next execution on the freed slot at once).
    public func setSlotFreedHandler(_ handler: @escaping @Sendable () async -> Void) {
        slotFreed = handler
    }

    func apply(_ status: RuntimeStatus, to key: AttemptKey) async {
        guard let tracker = trackers[key], !tracker.finished else { return }
        guard let handle = tracker.handle else {
            // Still starting: keep the report for when the handle is known (a final one wins).
            if tracker.earlyStatus?.isFinal != true { tracker.earlyStatus = status }
            return
        }
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
            await recordRunning(tracker, key: key, status: status, logger: logger)
        case .exited, .failed:
            tracker.finished = true
            // The container is gone: its slot is free now, before anything is written.
            await slotFreed?()
            if status.state == .exited {
                // It ran: say so now, not after its logs and outputs are in (a short run's
                // `running` would otherwise wait for them).
                await recordRunning(tracker, key: key, status: status, logger: logger)
            }
            // The logs' end and the outputs are independent: wait for both at once.
            let (pump, timeout) = (tracker.logPump, options.logDrainTimeout)
            async let drained: Void = Self.drain(pump, timeout: timeout, logger: logger)
            await collectOutputs(key, handle: handle, backend: tracker.backend, logger: logger)
            await drained
            if status.state == .failed {
                let code = status.errorCode?.rawValue ?? "engine_error"
                let failure = ExecutionFailure(code: code, message: "host \(tracker.host): \(status.reason ?? "the engine could not run it")")
                for from in [ExecutionState.starting, .running] {
                    if await endAttempt(key, from: from, to: .failed, failure, retryable: RetryPolicy.isEngineFailure(code: code), logger: logger) { break }
                }
            } else {
                let code = status.exitCode ?? -1
                let detail = status.reason.map { " (\($0))" } ?? ""
                let finishedAt = status.finishedAt.map(Self.date)
                if code == 0 {
                    let changes = TransitionChanges(exitCode: 0, attempt: key.attempt, finishedAt: finishedAt)
                    _ = await transition(id, .running, .succeeded, "exit code 0\(detail)", changes, logger)
                } else {
                    let failure = ExecutionFailure(code: "exit_code", message: "exit code \(code)\(detail)")
                    await endAttempt(key, from: .running, to: .failed, failure, exitCode: code, finishedAt: finishedAt, logger: logger)
                }
            }
            try? await store.finishAttempt(executionID: id, number: key.attempt, at: status.finishedAt.map(Self.date) ?? Date())
            trackers[key] = nil
            if options.removeFinished, !tracker.keep {
                do {
                    try await tracker.backend.remove(handle)
                } catch {
                    logger.warning("could not remove the finished attempt", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// Writes `starting → running` once per attempt, with the engine's start time.
    private func recordRunning(_ tracker: Tracker, key: AttemptKey, status: RuntimeStatus, logger: Logger) async {
        guard !tracker.recordedRunning else { return }
        tracker.recordedRunning = await transition(
            key.execution, .starting, .running, "running on host \(tracker.host)",
            TransitionChanges(attempt: key.attempt, startedAt: status.startedAt.map(Self.date)), logger)
    }

    /// Waits for a log pump to store the rest of its stream, at most `timeout` seconds.
    private nonisolated static func drain(_ pump: Task<Void, Never>?, timeout: Double, logger: Logger) async {
        guard let pump else { return }
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

    /// Ends an attempt that did not succeed: back to `queued` for another attempt (after the
    /// policy's backoff) when `retryable` and the execution's ``RetryPolicy`` allows one more,
    /// else to `terminal` with `failure`. A non-zero exit is retryable only when the policy
    /// lists its code. Returns whether a change was written (`false`: the execution was no
    /// longer in `from`).
    @discardableResult
    func endAttempt(
        _ key: AttemptKey, from: ExecutionState, to terminal: ExecutionState, _ failure: ExecutionFailure,
        exitCode: Int32? = nil, finishedAt: Date? = nil, retryable: Bool = false, logger: Logger
    ) async -> Bool {
        if let execution = try? await store.execution(id: key.execution), execution.state == from {
            let policy = execution.retry
            let retried = retryable || exitCode.map { policy.onExitCodes.contains($0) } == true
            if retried, policy.allowsAnother(after: key.attempt) {
                let wait = policy.backoff(after: key.attempt)
                let reason = "attempt \(key.attempt) of \(policy.maxAttempts) \(terminal == .lost ? "lost" : "failed"): \(failure.message); "
                    + "attempt \(key.attempt + 1) in \(Self.seconds(wait))"
                var changes = TransitionChanges.retry(notBefore: Date().addingTimeInterval(wait))
                changes.attempt = key.attempt
                return await transition(key.execution, from, .queued, reason, changes, logger)
            }
        }
        let changes = TransitionChanges(exitCode: exitCode, error: failure, attempt: key.attempt, finishedAt: finishedAt)
        return await transition(key.execution, from, terminal, failure.message, changes, logger)
    }

    /// `2 s`, `0.5 s`: a duration for a state reason.
    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\((value * 10).rounded() / 10) s"
    }

    @discardableResult
    func transition(
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

    static func date(_ timestamp: Timestamp) -> Date {
        Date(timeIntervalSince1970: timestamp.secondsSinceEpoch)
    }
}
