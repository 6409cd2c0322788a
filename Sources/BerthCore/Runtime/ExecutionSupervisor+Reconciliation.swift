import BerthPluginKit
import Foundation
import Logging

/// Reconciliation: the Store's unfinished attempts against what each host really runs.
extension ExecutionSupervisor {
    /// Reconciles one host with the Store, when supervision starts, after every reconnection
    /// (the event stream's `connection` event) and every ``Options/reconcileInterval``, by
    /// Berth's labels:
    ///
    /// - an attempt this supervisor follows is inspected, so what ended while the link was down
    ///   is recorded;
    /// - an unfinished attempt it does not follow (a server restarted, or leadership moved) is
    ///   adopted when its runtime object still exists: its logs are followed on from the last
    ///   stored chunk and its status applied, so one that ended meanwhile is recorded with its
    ///   exit code and logs;
    /// - an unfinished attempt whose object vanished is `lost` (or retried, see `endAttempt`);
    /// - an execution left `starting` with no recorded attempt (its server died inside the
    ///   start call) is settled: adopted when the engine has its object, else queued again
    ///   under the same attempt number;
    /// - an object no unfinished execution owns is removed once it has been seen so for
    ///   ``Options/orphanGrace`` (logged).
    ///
    /// Passes for one host never overlap: a request during a pass runs one more pass after it.
    func reconcile(host: String, backend: PluginInstance) async {
        guard isSupervising else { return }
        if reconciling[host] != nil {
            reconciling[host] = true
            return
        }
        reconciling[host] = false
        repeat {
            reconciling[host] = false
            await reconcilePass(host: host, backend: backend)
        } while isSupervising && reconciling[host] == true
        reconciling[host] = nil
    }

    private func reconcilePass(host: String, backend: PluginInstance) async {
        var logger = self.logger
        logger[metadataKey: "host"] = "\(host)"
        let objects: [RuntimeObject]
        let attempts: [Attempt]
        let starting: [Execution]
        do {
            objects = try await backend.list(labels: [BerthLabel.server: plugins.configuration.serverID])
            attempts = try await store.unfinishedAttempts().filter { $0.host == host }
            starting = try await store.listExecutions(ExecutionQuery(states: [.starting], host: host, limit: 1000)).executions
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
            guard isSupervising, let execution = try? await store.execution(id: attempt.executionID), trackers[key] == nil else { continue }
            if Self.isDecided(key.attempt, of: execution) {
                // Decided already (ended, cancelled, timed out, retried): the attempt only needs
                // closing; an object of it left behind is an orphan (removed below).
                try? await store.finishAttempt(executionID: key.execution, number: key.attempt, at: Date())
                owned.remove(key)
                continue
            }
            if let object = byAttempt[key] {
                await adopt(object, key: key, host: host, backend: backend, keep: execution.keep)
            } else {
                var attemptLogger = logger
                attemptLogger[metadataKey: "execution"] = "\(key.execution)"
                let failure = ExecutionFailure(
                    code: "lost", message: "the runtime object of attempt \(key.attempt) on host \(host) no longer exists")
                for from in [ExecutionState.running, .starting, .scheduled] {
                    if await endAttempt(key, from: from, to: .lost, failure, retryable: true, logger: attemptLogger) { break }
                }
                try? await store.finishAttempt(executionID: key.execution, number: key.attempt, at: Date())
            }
        }
        for execution in starting {
            let key = AttemptKey(execution: execution.id, attempt: execution.attempts)
            guard isSupervising, trackers[key] == nil, execution.currentAttempt == nil else { continue }
            owned.insert(key)
            await settleStart(of: execution, key: key, found: byAttempt[key], host: host, backend: backend, cause: nil, logger: logger)
        }
        // Objects kept on purpose (removeFinished off) are not orphans to remove.
        guard options.removeFinished, isSupervising else { return }
        await removeOrphans(byAttempt.filter { !owned.contains($0.key) && trackers[$0.key] == nil }, host: host, backend: backend, logger: logger)
    }

    /// A start call failed in transit (`unavailable`, `timeout`): the engine may or may not
    /// have created and started the attempt. Asks the engine by labels until it answers (1 s,
    /// doubling to 10 s; the execution stays `starting` and its reason says so), then settles.
    func unconfirmedStart(_ id: UUID, key: AttemptKey, host: String, backend: PluginInstance, error: PluginError, logger: Logger) {
        let reason = "waiting for host \(host) to answer: the start of attempt \(key.attempt) may not have reached it (\(error.message))"
        logger.warning("start of an attempt unconfirmed; asking the host until it answers", metadata: ["attempt": "\(key.attempt)", "error": "\(error)"])
        let labels = [BerthLabel.execution: id.uuidString.lowercased(), BerthLabel.attempt: String(key.attempt)]
        Task {
            try? await self.store.updateStateReasons([id: reason], whileIn: .starting)
            var delay = 1.0
            while self.isSupervising {
                do {
                    let found = try await backend.list(labels: labels).first
                    guard let execution = try await self.store.execution(id: id), execution.state == .starting,
                          execution.attempts == key.attempt
                    else { return }
                    await self.settleStart(of: execution, key: key, found: found, host: host, backend: backend, cause: error, logger: logger)
                    return
                } catch {
                    try? await Task.sleep(for: .seconds(delay))
                    delay = min(delay * 2, 10)
                }
            }
        }
    }

    /// Decides a `starting` execution whose attempt has no recorded handle, once the engine
    /// answered: adopts the attempt's object when the engine has one (recording its handle), or
    /// starts it when it was only created; else the attempt never started, and the execution goes back to `queued` under the same
    /// attempt number (not counted by the retry policy: nothing ran), placed again after the
    /// policy's first backoff.
    func settleStart(
        of execution: Execution, key: AttemptKey, found: RuntimeObject?, host: String, backend: PluginInstance,
        cause: PluginError?, logger: Logger
    ) async {
        guard trackers[key] == nil, isSupervising else { return }
        var logger = logger
        logger[metadataKey: "execution"] = "\(key.execution)"
        if let found, found.status.state == .created {
            // Created but never started (its server died between the two): start it now.
            logger.notice("an attempt was created but not started; starting it", metadata: ["attempt": "\(key.attempt)"])
            let tracker = Tracker(host: host, backend: backend, keep: execution.keep)
            trackers[key] = tracker
            await start(execution, key: key, tracker: tracker, logger: logger)
            return
        }
        if let found {
            do {
                try await store.recordAttempt(Attempt(
                    executionID: key.execution, number: key.attempt, host: host, runtimeHandle: found.handle.json.jsonText, startedAt: Date()))
            } catch {
                logger.error("could not record the attempt's handle", metadata: ["error": "\(error)", "handle": "\(found.handle)"])
                return
            }
            guard trackers[key] == nil, isSupervising else { return }
            await adopt(found, key: key, host: host, backend: backend, keep: execution.keep)
            return
        }
        // Not counted as an attempt, but still paced by the policy's first backoff, so an
        // engine that keeps refusing starts is not asked in a tight loop.
        let wait = execution.retry.backoff(after: 1)
        let detail = cause.map { " (\($0.message))" } ?? " (its server stopped while starting it)"
        let reason = "attempt \(key.attempt) never started on host \(host)\(detail); queued again, placed in \(Self.seconds(wait))"
        let changes = TransitionChanges.retry(notBefore: Date().addingTimeInterval(wait), attemptNeverStarted: true)
        if await transition(key.execution, .starting, .queued, reason, changes, logger) {
            logger.notice("an attempt never started; queued again", metadata: ["attempt": "\(key.attempt)"])
        }
    }

    /// Follows an attempt this supervisor did not start (found running or ended by reconciliation).
    func adopt(_ object: RuntimeObject, key: AttemptKey, host: String, backend: PluginInstance, keep: Bool) async {
        var logger = self.logger
        logger[metadataKey: "execution"] = "\(key.execution)"
        logger[metadataKey: "host"] = "\(host)"
        let tracker = Tracker(host: host, backend: backend, keep: keep)
        tracker.handle = object.handle
        trackers[key] = tracker
        followLogs(tracker, key: key, handle: object.handle, resume: await storedLogsEnd(key), logger: logger)
        logger.notice("adopted an attempt", metadata: ["attempt": "\(key.attempt)", "state": "\(object.status.state)"])
        // The listing may be stale: an end reported between it and now found no tracker and was
        // dropped. Every later report is applied, so one inspect now closes the gap.
        let status: RuntimeStatus
        do {
            status = try await backend.inspect(object.handle)
        } catch {
            logger.warning("could not inspect an adopted attempt; using the listing's status", metadata: ["error": "\(error)"])
            status = object.status
        }
        await apply(status, to: key)
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

    /// Whether `execution` has moved past attempt `number`: it ended, or it is waiting for (or
    /// on) a later attempt.
    private static func isDecided(_ number: Int, of execution: Execution) -> Bool {
        execution.state.isTerminal || execution.attempts != number || execution.state == .queued
    }

    /// Removes runtime objects no unfinished execution owns, once seen so for the grace period
    /// (unless their execution keeps them: `keep`, within retention).
    private func removeOrphans(_ orphans: [AttemptKey: RuntimeObject], host: String, backend: PluginInstance, logger: Logger) async {
        let now = ContinuousClock.now
        let prefix = "\(host)\u{0}"
        let current = Set(orphans.values.map { prefix + $0.handle.json.jsonText })
        orphansSeen = orphansSeen.filter { !$0.key.hasPrefix(prefix) || current.contains($0.key) }
        for (key, object) in orphans {
            let id = prefix + object.handle.json.jsonText
            let firstSeen = orphansSeen[id] ?? now
            orphansSeen[id] = firstSeen
            if now - firstSeen < options.orphanGrace {
                // The grace is for a start racing this pass. An ended object of a decided attempt
                // is none: its server died between recording the end and removing the object.
                guard object.status.isFinal, let execution = try? await store.execution(id: key.execution),
                      Self.isDecided(key.attempt, of: execution)
                else { continue }
            }
            // Kept on purpose (`keep`) until retention: not an orphan yet.
            if await keeps(key.execution) { continue }
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

}
