public import BerthCore
public import Foundation
import Logging

/// One state change waiting for its batch (see ``PostgresStore/transition(_:from:to:reason:changes:)``).
struct TransitionRequest: Sendable {
    let id: UUID
    let from: ExecutionState
    let to: ExecutionState
    let reason: String
    let changes: TransitionChanges
}

extension PostgresStore {
    /// A conditional change (`UPDATE … WHERE id = … AND state = from`) with its event, written
    /// with the changes other tasks asked for meanwhile in one statement (``WriteBatcher``).
    public func transition(
        _ id: UUID, from: ExecutionState, to: ExecutionState, reason: String, changes: TransitionChanges
    ) async throws(StoreError) -> TransitionOutcome {
        guard from.canTransition(to: to) else {
            throw StoreError(
                code: .invalidTransition,
                message: from.isTerminal ? "\(from.rawValue) is terminal and never changes" : "\(from.rawValue) cannot change to \(to.rawValue)",
                executionID: id, query: "transition"
            )
        }
        let outcome = try await transitions.submit(TransitionRequest(id: id, from: from, to: to, reason: reason, changes: changes)).get()
        if case .won = outcome {
            listener.announce(StoreNotification(channel: StoreNotification.executionChangedHereChannel, payload: id.uuidString.lowercased()))
        }
        logger.debug("transition", metadata: [
            "execution": "\(id.uuidString.lowercased())", "from": "\(from.rawValue)", "to": "\(to.rawValue)",
            "won": "\(outcome.didWin)",
        ])
        return outcome
    }

    /// Writes a batch of changes in one statement (its own transaction): each conditional
    /// change, its event (a retry's belongs to the attempt that ended: the row counts one less
    /// when that attempt never started), the webhook's outbox row when it ends (committed with
    /// the end it reports), the notification, and the rows as they now are.
    static func writeTransitions(_ batch: [TransitionRequest], pool: PostgresConnectionPool) async -> [Result<TransitionOutcome, StoreError>] {
        await writeEach(batch, operation: "transition", execution: \.id, pool: pool, writeTransitions(_:connection:))
    }

    private struct TransitionRecord: Encodable {
        let index: Int
        let id: UUID
        let fromState: String
        let toState: String
        let reason: String
        let host: String?
        let exitCode: Int32?
        let errorCode: String?
        let errorMessage: String?
        let attempt: Int?
        let startedUs: Int64?
        let finishedUs: Int64?
        let terminal: Bool
        let neverStarted: Bool
        let notBeforeUs: Int64?

        enum CodingKeys: String, CodingKey {
            case index, id, fromState = "from_state", toState = "to_state", reason, host, exitCode = "exit_code"
            case errorCode = "error_code", errorMessage = "error_message", attempt, startedUs = "started_us"
            case finishedUs = "finished_us", terminal, neverStarted = "never_started", notBeforeUs = "not_before_us"
        }
    }

    private static func writeTransitions(_ batch: [TransitionRequest], connection: PostgresConnection) async throws -> [TransitionOutcome] {
        let records = batch.enumerated().map { index, request in
            let changes = request.changes
            return TransitionRecord(
                index: index, id: request.id, fromState: request.from.rawValue, toState: request.to.rawValue,
                reason: request.reason, host: changes.host, exitCode: changes.exitCode,
                errorCode: changes.error?.code, errorMessage: changes.error?.message, attempt: changes.attempt,
                startedUs: changes.startedAt.map(PostgresTime.micros), finishedUs: changes.finishedAt.map(PostgresTime.micros),
                terminal: request.to.isTerminal, neverStarted: changes.attemptNeverStarted && request.to == .queued,
                notBeforeUs: changes.notBefore.map(PostgresTime.micros))
        }
        let rows = try await connection.query(
            """
            WITH t AS (
                SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(
                    index integer, id uuid, from_state text, to_state text, reason text, host text,
                    exit_code integer, error_code text, error_message text, attempt integer,
                    started_us bigint, finished_us bigint, terminal boolean, never_started boolean, not_before_us bigint)
            ), e AS (
                UPDATE executions x SET
                    state = t.to_state, state_reason = t.reason, updated_at = now(),
                    host = CASE WHEN t.to_state = 'queued' THEN NULL ELSE COALESCE(t.host, x.host) END,
                    exit_code = CASE WHEN t.to_state = 'queued' THEN NULL ELSE COALESCE(t.exit_code, x.exit_code) END,
                    error_code = CASE WHEN t.to_state = 'queued' THEN NULL ELSE COALESCE(t.error_code, x.error_code) END,
                    error_message = CASE WHEN t.to_state = 'queued' THEN NULL ELSE COALESCE(t.error_message, x.error_message) END,
                    attempts = CASE WHEN t.never_started THEN GREATEST(x.attempts - 1, 0)
                                    ELSE GREATEST(x.attempts, COALESCE(t.attempt, x.attempts)) END,
                    started_at = COALESCE(x.started_at, berth_ts(t.started_us), CASE WHEN t.to_state = 'running' THEN now() END),
                    finished_at = COALESCE(x.finished_at, berth_ts(t.finished_us), CASE WHEN t.terminal THEN now() END),
                    not_before = CASE WHEN t.to_state = 'queued' THEN berth_ts(t.not_before_us) END
                FROM t
                WHERE x.id = t.id AND x.state = t.from_state
                RETURNING x.*, t.index AS batch_index, t.from_state AS batch_from, t.attempt AS batch_attempt,
                          t.never_started AS batch_never_started, t.terminal AS batch_terminal
            ), event AS (
                INSERT INTO execution_events (execution_id, from_state, to_state, reason, attempt)
                SELECT id, batch_from, state, state_reason,
                       COALESCE(batch_attempt, NULLIF(CASE WHEN batch_never_started THEN attempts + 1 ELSE attempts END, 0))
                FROM e
            ), webhook AS (
                INSERT INTO webhook_deliveries (execution_id, url)
                SELECT id, webhook_url FROM e WHERE batch_terminal AND webhook_url IS NOT NULL
            ), notified AS (
                SELECT id, pg_notify($2, id::text) FROM e
            )
            SELECT e.batch_index, \(ExecutionRow.columns)
            FROM e JOIN notified n ON n.id = e.id
            LEFT JOIN attempts a ON a.execution_id = e.id AND a.number = e.attempts
            """,
            [try SQLValues.json(records), PostgresBind(StoreNotification.executionsChannel)]
        )
        var outcomes = try byBatchIndex(rows, count: batch.count) { TransitionOutcome.won(try ExecutionRow.decode($0)) }
        let lost = batch.indices.filter { outcomes[$0] == nil }
        if !lost.isEmpty {
            // Not in the expected state (or gone): say what it is now.
            let current = try await connection.query(
                "SELECT id, state FROM executions WHERE id = ANY($1::uuid[])",
                [SQLValues.array(lost.map { batch[$0].id.uuidString.lowercased() })]
            )
            var states: [UUID: ExecutionState] = [:]
            for row in current {
                if let id = try row.uuid("id") { states[id] = ExecutionState(rawValue: try row.string("state")) }
            }
            for index in lost { outcomes[index] = .lost(current: states[batch[index].id]) }
        }
        return outcomes.map { $0 ?? .lost(current: nil) }
    }
}
