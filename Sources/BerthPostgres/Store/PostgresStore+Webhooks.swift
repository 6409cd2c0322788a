public import BerthCore
public import Foundation

extension PostgresStore {
    /// Takes up to `limit` due deliveries, hiding each from other callers for `lease`.
    public func claimWebhookDeliveries(limit: Int, lease: Duration) async throws(StoreError) -> [WebhookDelivery] {
        try await perform("claim_webhooks") {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    UPDATE webhook_deliveries d SET next_at = now() + make_interval(secs => $2::double precision)
                    WHERE d.id IN (
                        SELECT id FROM webhook_deliveries
                        WHERE delivered_at IS NULL AND failed_at IS NULL AND next_at <= now()
                        ORDER BY next_at LIMIT $1::integer FOR UPDATE SKIP LOCKED)
                    RETURNING d.id, d.execution_id, d.url, d.attempts
                    """,
                    [PostgresBind(max(1, limit)), PostgresBind(Double(lease.components.seconds))])
            }
            return try rows.map { row in
                WebhookDelivery(
                    id: try ExecutionRow.required(row.uuid("id"), "id"),
                    executionID: try ExecutionRow.required(row.uuid("execution_id"), "execution_id"),
                    url: try row.string("url"), attempts: Int(try row.requiredInt64("attempts")))
            }
        }
    }

    /// Records a delivery's outcome.
    public func finishWebhookDelivery(_ id: UUID, delivered: Bool, error: String?, retryAt: Date?) async throws(StoreError) {
        try await perform("finish_webhook") {
            try await pool.withConnection { connection in
                try await connection.query(
                    """
                    UPDATE webhook_deliveries SET attempts = attempts + 1, last_error = $3,
                        delivered_at = CASE WHEN $2::boolean THEN now() END,
                        failed_at = CASE WHEN NOT $2::boolean AND $4::bigint IS NULL THEN now() END,
                        next_at = COALESCE(berth_ts($4::bigint), next_at)
                    WHERE id = $1
                    """,
                    [PostgresBind(id), PostgresBind(delivered), error.map { PostgresBind($0) }, retryAt.map { PostgresBind(micros: $0) }])
            }
        }
    }
}
