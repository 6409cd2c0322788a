public import Foundation

/// Chooses hosts for queued executions during ``Store/claim(limit:reason:placement:)``.
///
/// Called with the head of the queue in priority order (each candidate's id and target host);
/// returns the host for each execution to schedule. Executions left out stay queued. Must be
/// quick and pure: the claim waits for it.
public typealias Placement = @Sendable ([PlacementPlan.Candidate]) -> [UUID: String]

/// A fact about the deployment, kept in the Store, that every server sharing it must agree on.
public enum DeploymentFact: String, Sendable, CaseIterable {
    /// The `berth.server` label of every runtime object: each server's reconciliation must see
    /// the objects the others started.
    case serverID = "server_id"
    /// The id of the key that seals secret values (``SecretSealer/keyID``): a server with
    /// another key could not open them.
    case secretsKeyID = "secrets_key_id"
}

/// Durable state of Berth: executions, their events, attempts, logs and hosts.
///
/// Every state change goes through ``transition(_:from:to:reason:changes:)``: one conditional
/// update plus one event row, in one transaction. Implementations notify
/// ``StoreNotification/executionsChannel`` on create and on each change, and
/// ``StoreNotification/logsChannel`` on each log append.
public protocol Store: Sendable {
    /// Applies the schema migrations not applied yet. Safe to run concurrently and repeatedly.
    func migrate() async throws(StoreError)

    /// Stores `new` as the next version of its name (one more than the highest, from 1).
    func createTemplate(_ new: NewExecutionTemplate) async throws(StoreError) -> ExecutionTemplate

    /// The template `name` at `version`; with no version, its newest version not deprecated.
    func template(name: String, version: Int?) async throws(StoreError) -> ExecutionTemplate?

    /// Every template version, by name, newest version first; only `name`'s when given.
    func templates(name: String?) async throws(StoreError) -> [ExecutionTemplate]

    /// Marks a version deprecated (once; a second call keeps the first time and reason).
    /// - Returns: The template, or nil when there is no such version.
    func deprecateTemplate(name: String, version: Int, reason: String) async throws(StoreError) -> ExecutionTemplate?

    /// Stores a new schedule (its id, name, timetable and `next_due_at`).
    /// - Throws: ``StoreError`` with ``StoreError/Code/conflict`` when the name is taken.
    func createSchedule(_ schedule: Schedule) async throws(StoreError) -> Schedule
    /// The schedule with this name, or `nil`.
    func schedule(name: String) async throws(StoreError) -> Schedule?
    /// Every schedule, by name.
    func schedules() async throws(StoreError) -> [Schedule]
    /// The schedules not paused whose next run is due at `now` or before, most overdue first.
    func dueSchedules(at now: Date, limit: Int) async throws(StoreError) -> [Schedule]
    /// Pauses or resumes a schedule and sets its next due time; `nil` when no schedule has the name.
    func setSchedulePaused(name: String, paused: Bool, nextDueAt: Date?) async throws(StoreError) -> Schedule?
    /// Deletes a schedule and its run records (its executions stay); `false` when none had the name.
    func deleteSchedule(name: String) async throws(StoreError) -> Bool
    /// Records what became of one due time, unless something already was: returns the record
    /// that holds (the first one written), so every server that handles the same due time
    /// follows the same decision.
    func recordScheduleRun(_ run: ScheduleRun) async throws(StoreError) -> ScheduleRun
    /// Moves a schedule's next due time from `from` to `to` (and `last_due_at` to `handled`),
    /// only if it still is `from`; returns whether it moved.
    func advanceSchedule(id: UUID, from: Date, to: Date?, handled: Date) async throws(StoreError) -> Bool
    /// A schedule's run records, newest due time first.
    func scheduleRuns(scheduleID: UUID, limit: Int) async throws(StoreError) -> [ScheduleRun]
    /// The executions a schedule made that have not ended, oldest first.
    func activeScheduledExecutions(scheduleID: UUID) async throws(StoreError) -> [UUID]

    /// Writes a new execution as `queued` with its first event, in one transaction.
    /// - Parameter new: The submission.
    /// - Returns: The stored execution.
    func createExecution(_ new: NewExecution) async throws(StoreError) -> Execution

    /// The execution with this id, or `nil`.
    /// - Parameter id: The execution's id.
    func execution(id: UUID) async throws(StoreError) -> Execution?

    /// One page of executions matching the query, newest first.
    /// - Parameter query: Filters, cursor and limit.
    func listExecutions(_ query: ExecutionQuery) async throws(StoreError) -> ExecutionPage

    /// Changes an execution's state if, and only if, it is still in `from`.
    ///
    /// One conditional `UPDATE … WHERE id = $1 AND state = $2` plus one event row, in one
    /// transaction. A change that loses the race writes nothing and returns ``TransitionOutcome/lost(current:)``.
    /// - Parameters:
    ///   - id: The execution.
    ///   - from: The state the caller believes the execution is in.
    ///   - to: The new state.
    ///   - reason: Why; stored as the state reason and on the event.
    ///   - changes: Fields written with the change.
    /// - Throws: ``StoreError/Code/invalidTransition`` when `from → to` is not in the state
    ///   diagram (which includes every change out of a terminal state).
    func transition(
        _ id: UUID, from: ExecutionState, to: ExecutionState, reason: String, changes: TransitionChanges
    ) async throws(StoreError) -> TransitionOutcome

    /// Reads up to `limit` queued executions in priority order, asks `placement` for their
    /// hosts, and marks the placed ones `scheduled` on that host with a new attempt number and
    /// an event; the change is conditional on `queued`, so two claimers never get the same one
    /// and a candidate cancelled meanwhile is not scheduled.
    /// - Parameters:
    ///   - limit: At most this many candidates.
    ///   - reason: The reason stored on the events and as the state reason; `{host}` in it is
    ///     replaced by each execution's chosen host.
    ///   - placement: Chooses a host per candidate; candidates it leaves out stay queued.
    /// - Returns: The executions now scheduled.
    func claim(limit: Int, reason: String, placement: @escaping Placement) async throws(StoreError) -> [Execution]

    /// Stores an attempt with its runtime handle (before the start is acknowledged).
    /// Recording the same attempt again replaces its handle.
    /// - Parameter attempt: The attempt.
    /// - Returns: The execution's state as the attempt was recorded (whether it ended
    ///   meanwhile, through another server, without a second read).
    @discardableResult
    func recordAttempt(_ attempt: Attempt) async throws(StoreError) -> ExecutionState

    /// Marks an attempt ended.
    /// - Parameters:
    ///   - executionID: The execution.
    ///   - number: The attempt number.
    ///   - at: When it ended.
    func finishAttempt(executionID: UUID, number: Int, at: Date) async throws(StoreError)

    /// The attempts of an execution, oldest first.
    /// - Parameter executionID: The execution.
    func attempts(of executionID: UUID) async throws(StoreError) -> [Attempt]

    /// All attempts not finished yet, for reconciliation at start-up.
    func unfinishedAttempts() async throws(StoreError) -> [Attempt]

    /// The events of an execution in order.
    /// - Parameters:
    ///   - executionID: The execution.
    ///   - afterSeq: Only events after this sequence number.
    ///   - limit: At most this many.
    func events(of executionID: UUID, afterSeq: Int64?, limit: Int) async throws(StoreError) -> [ExecutionEvent]

    /// Appends log chunks in one transaction; chunks of one execution get consecutive `seq`
    /// numbers in the order given.
    /// - Parameter chunks: The chunks to append.
    /// - Returns: The stored chunks.
    @discardableResult
    func appendLogs(_ chunks: [NewLogChunk]) async throws(StoreError) -> [StoredLogChunk]

    /// Reads log chunks in `seq` order (descending when `query.newestFirst`).
    /// - Parameter query: Which chunks.
    func logs(_ query: LogQuery) async throws(StoreError) -> [StoredLogChunk]

    /// Keeps `report` as its execution's latest of its kind, unless the stored one is newer (a
    /// later attempt, or the same attempt at a later time).
    func recordReport(_ report: ExecutionReport) async throws(StoreError)

    /// The latest report of `kind` of an execution, if it made one.
    func report(_ kind: ExecutionReport.Kind, of executionID: UUID) async throws(StoreError) -> ExecutionReport?

    /// Removes the logs and collected outputs of up to `limit` executions that finished before
    /// `cutoff` and still have them, and marks them (`outputsExpiredAt`); returns their ids.
    /// Reports (progress, result) and the executions themselves stay.
    func expireOutputs(finishedBefore cutoff: Date, limit: Int) async throws(StoreError) -> [UUID]

    /// Takes up to `limit` due webhook deliveries for this caller: each is hidden from other
    /// callers for `lease` (so a server that dies mid-call leaves it to be retried).
    func claimWebhookDeliveries(limit: Int, lease: Duration) async throws(StoreError) -> [WebhookDelivery]

    /// Records a delivery's outcome: delivered; or failed with `error` and tried again at
    /// `retryAt`; or, with `retryAt` nil, given up.
    func finishWebhookDelivery(_ id: UUID, delivered: Bool, error: String?, retryAt: Date?) async throws(StoreError)

    /// Events across executions, in `seq` order (see ``EventQuery``).
    func events(_ query: EventQuery) async throws(StoreError) -> [ExecutionEvent]

    /// The `seq` of the newest event, 0 when there is none: where a stream of new events starts.
    func latestEventSeq() async throws(StoreError) -> Int64

    /// Starts (or starts over) the artifact set of an attempt: no chunks, not complete.
    func beginArtifacts(of executionID: UUID, attempt: Int) async throws(StoreError)

    /// Appends the next chunk (`seq` from 1) of an attempt's archive.
    func appendArtifactChunk(of executionID: UUID, attempt: Int, seq: Int, data: [UInt8]) async throws(StoreError)

    /// Ends an attempt's collection: complete with `bytes`, or with `error` (its chunks are
    /// then deleted: a cut archive is of no use).
    func finishArtifacts(of executionID: UUID, attempt: Int, bytes: Int64, error: String?) async throws(StoreError)

    /// The artifact set of the execution's latest attempt that has one.
    func artifactSet(of executionID: UUID) async throws(StoreError) -> ArtifactSet?

    /// Chunks of an attempt's archive after `afterSeq`, in order.
    func artifactChunks(of executionID: UUID, attempt: Int, afterSeq: Int, limit: Int) async throws(StoreError) -> [(seq: Int, data: [UInt8])]

    /// Inserts or replaces a host record.
    /// - Parameter host: The record.
    func upsertHost(_ host: HostRecord) async throws(StoreError)

    /// All host records, by name.
    func hosts() async throws(StoreError) -> [HostRecord]

    /// A new stream of notifications from the Store's channels. The stream first yields a
    /// ``StoreNotification/resyncChannel`` marker once the listener is listening, and again
    /// after every reconnect. Ends when the Store shuts down or the consumer stops.
    func notifications() -> AsyncStream<StoreNotification>

    /// How many executions there are in each state on each host (`host`, else `target_host`,
    /// else empty), for `GET /metrics`.
    func executionCounts() async throws(StoreError) -> [ExecutionCount]

    // MARK: Scheduler support (see docs/scheduler.md)

    /// How many executions each host holds: those in `scheduled`, `starting` or `running`
    /// placed on it, keyed by host name, leaving out the executions in `excluded` (those
    /// whose container has ended). Hosts with none are absent.
    func activeExecutionCounts(excluding excluded: Set<UUID>) async throws(StoreError) -> [String: Int]

    /// Sets the state reason of executions waiting in `state` without a state change: no
    /// event row, no notification. A row is written only while it is still in `state` and only
    /// when its reason differs, so repeating the same reasons writes nothing. The scheduler
    /// says why `queued` executions wait; the supervisor what a `starting` one waits for
    /// (an unschedulable pod, an image pull).
    /// - Parameters:
    ///   - reasons: The new reason per execution id.
    ///   - state: The state the executions must still be in.
    func updateStateReasons(_ reasons: [UUID: String], whileIn state: ExecutionState) async throws(StoreError)

    /// The earliest time a `queued` execution waiting out a retry backoff may be placed, when
    /// one waits; the scheduler wakes up then.
    func nextRetryAt() async throws(StoreError) -> Date?

    /// Executions in `running` that have a `timeoutSeconds`, earliest deadline first.
    /// - Parameter limit: At most this many.
    func runningWithTimeout(limit: Int) async throws(StoreError) -> [Execution]

    /// A fact every server of the deployment must agree on (``DeploymentFact``): the value
    /// recorded by the first server that asked, which records `proposed` when none is.
    func deploymentFact(_ fact: DeploymentFact, proposing proposed: String) async throws(StoreError) -> String

    // MARK: API tokens (see docs/security.md)

    /// Stores a token.
    func createToken(_ token: NewAPIToken) async throws(StoreError) -> APIToken

    /// Stores `token` only when no token exists at all (the first start of a deployment);
    /// returns `nil` when there was one. Two servers starting at once store one between them.
    func createFirstToken(_ token: NewAPIToken) async throws(StoreError) -> APIToken?

    /// The token with this id, revoked or not, with the SHA-256 (hex) of its secret, for the
    /// caller to compare in constant time; `nil` if none.
    func tokenCredential(id: UUID) async throws(StoreError) -> (token: APIToken, secretHash: String)?

    /// Every token, newest first.
    func tokens() async throws(StoreError) -> [APIToken]

    /// Revokes a token (at once: the next request with it is refused); revoking again changes
    /// nothing. Returns the token, or `nil` when no token has this id.
    func revokeToken(id: UUID) async throws(StoreError) -> APIToken?

    /// Records that a token was used now.
    func markTokenUsed(id: UUID) async throws(StoreError)

    /// The lock that elects the scheduler leader among the servers sharing this Store.
    /// - Parameter key: The lock's key; every server of a deployment uses the same one.
    func leaderLock(key: Int64) -> any LeaderLock
}

/// One row of ``Store/executionCounts()``.
public struct ExecutionCount: Sendable, Equatable {
    /// The state.
    public var state: ExecutionState
    /// Where the executions run or are aimed (empty: no host yet and none asked for).
    public var host: String
    /// How many.
    public var count: Int

    /// A row.
    public init(state: ExecutionState, host: String, count: Int) {
        self.state = state
        self.host = host
        self.count = count
    }
}

extension Store {
    /// Default: counts by paging through ``listExecutions(_:)``.
    public func executionCounts() async throws(StoreError) -> [ExecutionCount] {
        var counts: [ExecutionState: [String: Int]] = [:]
        var query = ExecutionQuery(limit: 1000)
        while true {
            let page = try await listExecutions(query)
            for execution in page.executions {
                counts[execution.state, default: [:]][execution.host ?? execution.targetHost ?? "", default: 0] += 1
            }
            guard let next = page.next else { break }
            query.after = next
        }
        return counts.flatMap { state, hosts in hosts.map { ExecutionCount(state: state, host: $0.key, count: $0.value) } }
    }

    /// Default: counts by paging through ``listExecutions(_:)``.
    public func activeExecutionCounts(excluding excluded: Set<UUID>) async throws(StoreError) -> [String: Int] {
        var counts: [String: Int] = [:]
        var query = ExecutionQuery(states: [.scheduled, .starting, .running], limit: 1000)
        while true {
            let page = try await listExecutions(query)
            for execution in page.executions where !excluded.contains(execution.id) {
                if let host = execution.host { counts[host, default: 0] += 1 }
            }
            guard let next = page.next else { return counts }
            query.after = next
        }
    }

    /// Default: does nothing (reasons of waiting executions are not kept).
    public func updateStateReasons(_ reasons: [UUID: String], whileIn state: ExecutionState) async throws(StoreError) {}

    /// Default: filters one page of ``listExecutions(_:)``.
    public func runningWithTimeout(limit: Int) async throws(StoreError) -> [Execution] {
        let page = try await listExecutions(ExecutionQuery(states: [.running], limit: 1000))
        let withTimeout = page.executions.filter { $0.timeoutSeconds != nil && $0.startedAt != nil }
        return Array(withTimeout.sorted {
            $0.startedAt!.addingTimeInterval(Double($0.timeoutSeconds!)) < $1.startedAt!.addingTimeInterval(Double($1.timeoutSeconds!))
        }.prefix(limit))
    }

    /// Default: a ``SingleProcessLeaderLock``.
    public func leaderLock(key: Int64) -> any LeaderLock { SingleProcessLeaderLock() }

    /// Changes an execution's state with no other field; see ``transition(_:from:to:reason:changes:)``.
    public func transition(
        _ id: UUID, from: ExecutionState, to: ExecutionState, reason: String
    ) async throws(StoreError) -> TransitionOutcome {
        try await transition(id, from: from, to: to, reason: reason, changes: .none)
    }

    /// Claims queued executions for one host: those that ask for `host` or for no host.
    /// - Parameters:
    ///   - host: The host to schedule them on.
    ///   - limit: At most this many.
    public func claimQueued(host: String, limit: Int) async throws(StoreError) -> [Execution] {
        try await claim(limit: limit, reason: "scheduled on \(host)") { candidates in
            var placed: [UUID: String] = [:]
            for execution in candidates where execution.targetHost == nil || execution.targetHost == host {
                placed[execution.id] = host
            }
            return placed
        }
    }
}
