public import BerthCore
public import Foundation

extension PostgresStore {
    /// Starts (or starts over) an attempt's artifact set.
    public func beginArtifacts(of executionID: UUID, attempt: Int) async throws(StoreError) {
        try await perform("begin_artifacts", execution: executionID) {
            try await pool.withTransaction { connection in
                try await connection.query(
                    "DELETE FROM artifact_sets WHERE execution_id = $1 AND attempt = $2::integer",
                    [PostgresBind(executionID), PostgresBind(attempt)])
                try await connection.query(
                    "INSERT INTO artifact_sets (execution_id, attempt) VALUES ($1, $2::integer)",
                    [PostgresBind(executionID), PostgresBind(attempt)])
            }
        }
    }

    /// Appends one chunk of an attempt's archive.
    public func appendArtifactChunk(of executionID: UUID, attempt: Int, seq: Int, data: [UInt8]) async throws(StoreError) {
        try await perform("append_artifact_chunk", execution: executionID) {
            try await pool.withConnection { connection in
                try await connection.query(
                    """
                    WITH chunk AS (
                        INSERT INTO artifact_chunks (execution_id, attempt, seq, data) VALUES ($1, $2::integer, $3::integer, $4::bytea)
                    )
                    UPDATE artifact_sets SET bytes = bytes + $5::bigint WHERE execution_id = $1 AND attempt = $2::integer
                    """,
                    [PostgresBind(executionID), PostgresBind(attempt), PostgresBind(seq), .binary(data), PostgresBind(Int64(data.count))])
            }
        }
    }

    /// Ends an attempt's collection.
    public func finishArtifacts(of executionID: UUID, attempt: Int, bytes: Int64, error: String?) async throws(StoreError) {
        try await perform("finish_artifacts", execution: executionID) {
            try await pool.withTransaction { connection in
                if error != nil {
                    try await connection.query(
                        "DELETE FROM artifact_chunks WHERE execution_id = $1 AND attempt = $2::integer",
                        [PostgresBind(executionID), PostgresBind(attempt)])
                }
                try await connection.query(
                    "UPDATE artifact_sets SET bytes = $3::bigint, complete = $4, error = $5 WHERE execution_id = $1 AND attempt = $2::integer",
                    [PostgresBind(executionID), PostgresBind(attempt), PostgresBind(bytes), PostgresBind(error == nil), error.map { PostgresBind($0) }])
            }
        }
    }

    /// The artifact set of the execution's latest attempt that has one.
    public func artifactSet(of executionID: UUID) async throws(StoreError) -> ArtifactSet? {
        try await perform("read_artifact_set", execution: executionID) {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    SELECT attempt, bytes, complete, error, berth_us(at) AS at_us FROM artifact_sets
                    WHERE execution_id = $1 ORDER BY attempt DESC LIMIT 1
                    """,
                    [PostgresBind(executionID)])
            }
            guard let row = rows.first else { return nil }
            return ArtifactSet(
                executionID: executionID, attempt: Int(try row.requiredInt64("attempt")), bytes: try row.requiredInt64("bytes"),
                complete: try row.string("complete") == "t", error: try row.text("error"),
                at: try ExecutionRow.required(row.date(micros: "at_us"), "at_us"))
        }
    }

    /// Chunks of an attempt's archive after `afterSeq`.
    public func artifactChunks(of executionID: UUID, attempt: Int, afterSeq: Int, limit: Int) async throws(StoreError) -> [(seq: Int, data: [UInt8])] {
        try await perform("read_artifact_chunks", execution: executionID) {
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    SELECT seq, data FROM artifact_chunks WHERE execution_id = $1 AND attempt = $2::integer AND seq > $3::integer
                    ORDER BY seq LIMIT $4::integer
                    """,
                    [PostgresBind(executionID), PostgresBind(attempt), PostgresBind(afterSeq), PostgresBind(limit)])
            }
            return try rows.map { row in (Int(try row.requiredInt64("seq")), try row.bytes("data") ?? []) }
        }
    }
}
