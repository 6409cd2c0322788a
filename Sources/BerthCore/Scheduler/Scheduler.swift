import BerthPluginKit
public import Foundation
public import Logging
import Synchronization

/// Places queued executions on hosts and launches them; enforces timeouts; cancels.
///
/// One ``Scheduler`` runs in every server, but only the leader schedules: leadership is a
/// ``LeaderLock`` from the Store (a PostgreSQL advisory lock held on a dedicated connection).
/// The leader makes a pass whenever the Store notifies a change on the executions channel
/// (create, every transition), when the supervisor sees an attempt's container end (its slot
/// is free then, before its logs and outputs are stored), after a
/// (re)connect of the listener, at the next timeout deadline, and at least every
/// ``SchedulerConfiguration/fallbackInterval``. A pass:
///
/// 1. moves every `running` execution whose `timeoutSeconds` passed to `timed_out` and has
///    the supervisor stop its attempt;
/// 2. asks each host's health (cached) and limit, counts what each host holds, and claims the
///    queue (priority, then age) with ``PlacementPlan`` deciding inside the claim;
/// 3. writes the reason of every execution that still waits (only when it changed);
/// 4. hands the placed ones to the ``ExecutionSupervisor``, in order, one host at a time.
///
/// The leader also supervises: it starts the ``ExecutionSupervisor`` when it wins leadership
/// (which reconciles every host and adopts what the previous leader followed) and shuts it
/// down when it loses it. Cancel works on every server, leader or not (``cancel(_:reason:)``).
public actor Scheduler: ExecutionControl {
    private enum State {
        case idle, running, shuttingDown, shutDown
    }

    private struct HostInfo {
        var unavailable: String?
        var limit: Int?
        var checkedAt: ContinuousClock.Instant
    }

    /// The waiting reasons a claim's placement produced (set inside the claim's closure).
    private final class WaitingBox: Sendable {
        let reasons = Mutex<[UUID: String]>([:])
    }

    private let store: any Store
    private let plugins: PluginHost
    private let supervisor: ExecutionSupervisor
    private let configuration: SchedulerConfiguration
    private let logger: Logger
    private let lock: any LeaderLock
    private let clock = ContinuousClock()

    private var state = State.idle
    /// Whether this scheduler is the leader now.
    public private(set) var isLeader = false
    private var lastLeaderCheck: ContinuousClock.Instant?
    private var wakePending = false
    private var waiter: CheckedContinuation<Void, Never>?
    private var stoppedWaiters: [CheckedContinuation<Void, Never>] = []
    private var hostInfo: [String: HostInfo] = [:]
    private var writtenReasons: [UUID: String] = [:]

    /// A scheduler; nothing happens until ``run()``.
    /// - Parameters:
    ///   - store: Where executions are.
    ///   - plugins: The open hosts (for health and capacity).
    ///   - supervisor: Runs the attempts; ``run()`` starts it.
    ///   - configuration: Default host, limits, intervals.
    ///   - logger: Where to log.
    public init(
        store: any Store, plugins: PluginHost, supervisor: ExecutionSupervisor,
        configuration: SchedulerConfiguration, logger: Logger
    ) {
        self.store = store
        self.plugins = plugins
        self.supervisor = supervisor
        self.configuration = configuration
        self.logger = logger
        self.lock = store.leaderLock(key: configuration.leaderLockKey)
    }

    // MARK: Life cycle

    /// Runs until the task is cancelled or ``shutdown()`` is called: tries to become the leader
    /// (again every ``SchedulerConfiguration/leaderRetryInterval``), and while leader, schedules.
    /// Gives leadership up on return.
    public func run() async {
        guard state == .idle else {
            logger.error("Scheduler.run() called when not idle", metadata: ["state": "\(state)"])
            return
        }
        state = .running
        await supervisor.setSlotFreedHandler { [weak self] in await self?.notified() }
        let notifications = store.notifications()
        let listener = Task { [weak self] in
            for await notification in notifications
            where notification.channel == StoreNotification.executionsChannel || notification.isResync {
                await self?.notified()
            }
        }
        while state == .running, !Task.isCancelled {
            guard await holdLeadership() else {
                await sleep(for: configuration.leaderRetryInterval)
                continue
            }
            guard state == .running, !Task.isCancelled else { break }
            let untilDeadline = await schedulingPass()
            await sleep(for: min(configuration.fallbackInterval, untilDeadline))
        }
        listener.cancel()
        if isLeader {
            logger.notice("giving up scheduler leadership")
            await supervisor.shutdown()
        }
        isLeader = false
        await lock.release()
        state = .shutDown
        for waiter in stoppedWaiters { waiter.resume() }
        stoppedWaiters = []
    }

    /// Stops ``run()`` and waits until it has returned (leadership released). Attempts that
    /// run keep running; the supervisor and the plugins are shut down by their owner.
    public func shutdown() async {
        switch state {
        case .idle:
            state = .shutDown
        case .running, .shuttingDown:
            state = .shuttingDown
            wake()
            await withCheckedContinuation { stoppedWaiters.append($0) }
        case .shutDown:
            return
        }
    }

    /// Whether this scheduler holds leadership now: takes it when free, and notices when the
    /// lock's connection dropped (checked at most once a second).
    private func holdLeadership() async -> Bool {
        if isLeader {
            if let last = lastLeaderCheck, clock.now - last < .seconds(1) { return true }
            lastLeaderCheck = clock.now
            if await lock.isHeld() { return true }
            isLeader = false
            logger.warning("scheduler leadership lost; supervision stops until it is won again")
            await supervisor.shutdown()
            return false
        }
        do {
            guard try await lock.acquire() else { return false }
        } catch {
            logger.warning("could not try for scheduler leadership", metadata: ["error": "\(error)"])
            return false
        }
        guard state == .running else { return false }
        isLeader = true
        lastLeaderCheck = clock.now
        writtenReasons = [:]
        logger.notice("became scheduler leader", metadata: ["key": "\(configuration.leaderLockKey)"])
        await supervisor.start()
        await adoptScheduled()
        return true
    }

    /// Launches executions a previous leader placed but may not have launched. Safe if it did:
    /// only one `scheduled → starting` change wins.
    private func adoptScheduled() async {
        do {
            let page = try await store.listExecutions(ExecutionQuery(states: [.scheduled], limit: 1000))
            guard !page.executions.isEmpty else { return }
            logger.info("launching executions left scheduled", metadata: ["count": "\(page.executions.count)"])
            launch(page.executions.sorted { ($0.priority, $1.createdAt) > ($1.priority, $0.createdAt) })
        } catch {
            logger.warning("could not read scheduled executions", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Wake-ups

    private func notified() {
        if isLeader { wake() }
    }

    private func wake() {
        if let waiter {
            self.waiter = nil
            waiter.resume()
        } else {
            wakePending = true
        }
    }

    /// Waits for a wake-up, at most `duration`; returns at once if one is pending.
    private func sleep(for duration: Duration) async {
        if wakePending {
            wakePending = false
            return
        }
        guard state == .running, !Task.isCancelled else { return }
        let timer = Task { [weak self] in
            do { try await Task.sleep(for: duration) } catch { return }
            await self?.wake()
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { waiter = $0 }
        } onCancel: {
            Task { await self.wake() }
        }
        timer.cancel()
        wakePending = false
    }

    // MARK: Scheduling

    /// One pass; returns the time until the next timeout deadline or retry (or the fallback interval).
    private func schedulingPass() async -> Duration {
        let untilDeadline = await enforceTimeouts()
        await place()
        do {
            guard let retryAt = try await store.nextRetryAt() else { return untilDeadline }
            return min(untilDeadline, .milliseconds(max(Int64(retryAt.timeIntervalSinceNow * 1000) + 5, 5)))
        } catch {
            logger.warning("could not read the next retry time", metadata: ["error": "\(error)"])
            return untilDeadline
        }
    }

    private func enforceTimeouts() async -> Duration {
        var next = configuration.fallbackInterval
        let running: [Execution]
        do {
            running = try await store.runningWithTimeout(limit: configuration.batchSize)
        } catch {
            logger.warning("could not read running executions", metadata: ["error": "\(error)"])
            return next
        }
        let now = Date()
        for execution in running {
            guard let seconds = execution.timeoutSeconds, let started = execution.startedAt else { continue }
            let deadline = started.addingTimeInterval(Double(seconds))
            guard deadline <= now else {
                next = min(next, .milliseconds(Int64(deadline.timeIntervalSince(now) * 1000) + 5))
                break  // sorted by deadline
            }
            await timeOut(execution, seconds: seconds)
        }
        return next
    }

    private func timeOut(_ execution: Execution, seconds: Int) async {
        let reason = "timed out after \(seconds) s"
        do {
            let outcome = try await store.transition(
                execution.id, from: .running, to: .timedOut, reason: reason,
                changes: TransitionChanges(error: ExecutionFailure(code: "timeout", message: reason)))
            guard outcome.didWin else { return }
        } catch {
            logger.error("could not record a timeout", metadata: ["execution": "\(execution.id)", "error": "\(error)"])
            return
        }
        logger.info("execution timed out", metadata: ["execution": "\(execution.id)", "timeout": "\(seconds)"])
        stopInBackground(execution.id)
    }

    private func stopInBackground(_ id: UUID) {
        let supervisor = self.supervisor
        let grace = configuration.stopGraceSeconds
        Task { await supervisor.stop(executionID: id, graceSeconds: grace) }
    }

    private func place() async {
        let hosts = await hostStates()
        let counts: [String: Int]
        do {
            // An attempt whose container has ended holds no slot, though it is still `running`
            // while its logs and outputs are stored: `max_concurrent` bounds containers.
            counts = try await store.activeExecutionCounts(excluding: await supervisor.endingExecutions)
        } catch {
            logger.warning("could not count running executions", metadata: ["error": "\(error)"])
            return
        }
        var hostStates: [String: PlacementPlan.HostState] = [:]
        for (name, info) in hosts {
            hostStates[name] = PlacementPlan.HostState(
                unavailable: info.unavailable, limit: info.limit ?? 0, running: counts[name, default: 0],
                labels: configuration.hostLabels[name] ?? [:])
        }
        let defaultHost = configuration.defaultHost
        let states = hostStates
        let box = WaitingBox()
        let claimed: [Execution]
        do {
            claimed = try await store.claim(limit: configuration.batchSize, reason: "scheduled on host {host}") { candidates in
                let plan = PlacementPlan.make(
                    queue: candidates,
                    hosts: states, defaultHost: defaultHost)
                box.reasons.withLock { $0 = plan.waiting }
                return plan.placements
            }
        } catch {
            logger.warning("could not claim queued executions", metadata: ["error": "\(error)"])
            return
        }
        let now = Date()
        for execution in claimed {
            BerthMetrics.scheduled(host: execution.host ?? "", waited: now.timeIntervalSince(max(execution.createdAt, execution.notBefore ?? .distantPast)))
        }
        launch(claimed)
        await recordWaiting(box.reasons.withLock { $0 })
    }

    /// Writes the reasons that changed since the last write.
    private func recordWaiting(_ waiting: [UUID: String]) async {
        let changed = waiting.filter { writtenReasons[$0.key] != $0.value }
        if !changed.isEmpty {
            do {
                try await store.updateStateReasons(changed, whileIn: .queued)
            } catch {
                logger.warning("could not record why executions wait", metadata: ["error": "\(error)"])
                return
            }
        }
        writtenReasons = waiting
    }

    /// Hands placed executions to the supervisor: in order within each host, hosts in parallel.
    private func launch(_ executions: [Execution]) {
        guard !executions.isEmpty else { return }
        var byHost: [String: [Execution]] = [:]
        var order: [String] = []
        for execution in executions {
            let host = execution.host ?? ""
            if byHost[host] == nil { order.append(host) }
            byHost[host, default: []].append(execution)
        }
        let supervisor = self.supervisor
        for host in order {
            let batch = byHost[host]!
            Task { await supervisor.launch(inOrder: batch) }
        }
    }

    /// Health (cached for ``SchedulerConfiguration/healthInterval``) and limit of every host.
    private func hostStates() async -> [String: HostInfo] {
        let now = clock.now
        var result: [String: HostInfo] = [:]
        for record in await plugins.hosts {
            let name = record.configuration.name
            if let cached = hostInfo[name], now - cached.checkedAt < configuration.healthInterval {
                result[name] = cached
                continue
            }
            var info = HostInfo(unavailable: nil, limit: configuration.maxConcurrent[name] ?? hostInfo[name]?.limit, checkedAt: now)
            switch record.result {
            case .failure(let error):
                info.unavailable = error.message
            case .success(let backend):
                do {
                    let health = try await backend.health()
                    if !health.ok { info.unavailable = health.message.isEmpty ? "not healthy" : health.message }
                    if info.limit == nil { info.limit = try await backend.capacity().maxConcurrent }
                } catch {
                    info.unavailable = error.message
                }
            }
            hostInfo[name] = info
            result[name] = info
        }
        return result
    }

    // MARK: ExecutionControl

    /// Cancels an execution.
    ///
    /// A `queued` or `scheduled` one changes to `cancelled` at once. A `starting` or `running`
    /// one changes to `cancelled` first and then its attempt is stopped (in the background, with
    /// ``SchedulerConfiguration/stopGraceSeconds``): writing the state first means the
    /// attempt's own end (exit 137) loses its conditional change and cannot turn the
    /// execution into `failed`. A terminal execution is returned as it is.
    /// - Parameters:
    ///   - id: The execution.
    ///   - reason: The state reason, such as "cancelled by user".
    /// - Returns: The execution after the request; `nil` when no execution has this id.
    public func cancel(_ id: UUID, reason: String) async throws(StoreError) -> Execution? {
        for _ in 0..<10 {
            guard let execution = try await store.execution(id: id) else { return nil }
            if execution.state.isTerminal { return execution }
            let from = execution.state
            let outcome = try await store.transition(id, from: from, to: .cancelled, reason: reason)
            guard case .won(let cancelled) = outcome else { continue }  // it moved on: look again
            logger.info("execution cancelled", metadata: ["execution": "\(id)", "from": "\(from)"])
            if from == .starting || from == .running || from == .scheduled {
                // A scheduled one may be mid-launch here: the supervisor stops it once started.
                stopInBackground(id)
            }
            return cancelled
        }
        return try await store.execution(id: id)
    }
}
