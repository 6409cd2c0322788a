public import BerthCore
import Foundation

extension PostgresStore {
    /// Inserts or replaces a host record.
    public func upsertHost(_ host: HostRecord) async throws(StoreError) {
        try await perform("upsert_host") {
            try await pool.withConnection { connection in
                try await connection.query(
                    """
                    INSERT INTO hosts (name, plugin, labels, capacity, status, last_seen_at)
                    VALUES ($1, $2, $3::jsonb, $4, $5, berth_ts($6::bigint))
                    ON CONFLICT (name) DO UPDATE
                    SET plugin = EXCLUDED.plugin, labels = EXCLUDED.labels, capacity = EXCLUDED.capacity,
                        status = EXCLUDED.status, last_seen_at = EXCLUDED.last_seen_at
                    """,
                    [
                        PostgresBind(host.name), PostgresBind(host.plugin), try SQLValues.json(host.labels),
                        host.capacity.map { PostgresBind($0) }, PostgresBind(host.status), PostgresBind(micros: host.lastSeenAt),
                    ]
                )
            }
        }
    }

    /// All host records, by name.
    public func hosts() async throws(StoreError) -> [HostRecord] {
        try await perform("list_hosts") {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    "SELECT name, plugin, labels::text AS labels, capacity, status, berth_us(last_seen_at) AS seen_us FROM hosts ORDER BY name"
                )
            }
            return try rows.map { row in
                HostRecord(
                    name: try row.string("name"),
                    plugin: try row.string("plugin"),
                    labels: try row.json([String: String].self, "labels") ?? [:],
                    capacity: try row.int64("capacity").map { Int($0) },
                    status: try row.string("status"),
                    lastSeenAt: try ExecutionRow.required(row.date(micros: "seen_us"), "seen_us")
                )
            }
        }
    }
}
