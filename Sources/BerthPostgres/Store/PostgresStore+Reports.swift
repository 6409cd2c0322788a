import BerthPluginKit
public import BerthCore
public import Foundation

extension PostgresStore {
    /// Keeps `report` unless the stored report of its kind is newer: a later attempt, or the
    /// same attempt at a later time. Notifies `berth_reports` with the execution id.
    public func recordReport(_ report: ExecutionReport) async throws(StoreError) {
        try await perform("record_report", execution: report.executionID) {
            try await pool.withConnection { connection in
                try await connection.query(
                    """
                    INSERT INTO execution_reports AS r (execution_id, kind, attempt, source, body, at)
                    VALUES ($1, $2, $3::integer, $4, $5::jsonb, berth_ts($6::bigint))
                    ON CONFLICT (execution_id, kind) DO UPDATE
                    SET attempt = EXCLUDED.attempt, source = EXCLUDED.source, body = EXCLUDED.body, at = EXCLUDED.at
                    WHERE (EXCLUDED.attempt, EXCLUDED.at) >= (r.attempt, r.at)
                    """,
                    [
                        PostgresBind(report.executionID), PostgresBind(report.kind.rawValue), PostgresBind(report.attempt),
                        PostgresBind(report.source.rawValue), .text(JSONValue.object(report.body).jsonText), PostgresBind(micros: report.at),
                    ]
                )
            }
        }
    }

    /// The latest report of `kind` of an execution.
    public func report(_ kind: ExecutionReport.Kind, of executionID: UUID) async throws(StoreError) -> ExecutionReport? {
        try await perform("read_report", execution: executionID) {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    SELECT attempt, source, body::text AS body, berth_us(at) AS at_us
                    FROM execution_reports WHERE execution_id = $1 AND kind = $2
                    """,
                    [PostgresBind(executionID), PostgresBind(kind.rawValue)]
                )
            }
            guard let row = rows.first else { return nil }
            let sourceText = try row.string("source")
            guard let source = ExecutionReport.Source(rawValue: sourceText) else {
                throw PostgresError(code: .decodingFailed, message: "unknown report source \"\(sourceText)\"")
            }
            guard case .object(let body) = try JSONValue(parsing: try row.string("body")) else {
                throw PostgresError(code: .decodingFailed, message: "a report body that is not an object")
            }
            return ExecutionReport(
                executionID: executionID, kind: kind, attempt: Int(try row.requiredInt64("attempt")), source: source,
                body: body, at: try ExecutionRow.required(row.date(micros: "at_us"), "at_us"))
        }
    }
}
