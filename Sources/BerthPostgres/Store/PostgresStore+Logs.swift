import BerthPluginKit
public import BerthCore
import Foundation

extension PostgresStore {
    /// Rows per `INSERT` statement (5 parameters each, well under PostgreSQL's 65535).
    static let logRowsPerStatement = 1000

    /// Appends log chunks in one transaction; chunks of one execution get consecutive `seq`
    /// numbers, taken under the execution's row lock so they are commit-ordered. Notifies
    /// `berth_logs` once per execution.
    ///
    /// An execution stores at most ``maxLogBytesPerExecution`` bytes of output: the chunk that
    /// crosses the cap is cut there and followed by a marker chunk on its stream saying so, and
    /// every later chunk is dropped (the returned chunks are the ones stored).
    @discardableResult
    public func appendLogs(_ chunks: [NewLogChunk]) async throws(StoreError) -> [StoredLogChunk] {
        guard !chunks.isEmpty else { return [] }
        var order: [UUID] = []
        var byExecution: [UUID: [NewLogChunk]] = [:]
        for chunk in chunks {
            if byExecution[chunk.executionID] == nil { order.append(chunk.executionID) }
            byExecution[chunk.executionID, default: []].append(chunk)
        }
        return try await perform("append_logs", execution: order.count == 1 ? order[0] : nil) {
            try await pool.withTransaction { connection in
                var stored: [StoredLogChunk] = []
                stored.reserveCapacity(chunks.count)
                for executionID in order {
                    let counters = try await connection.query(
                        "SELECT log_bytes, log_cut FROM executions WHERE id = $1 FOR UPDATE", [PostgresBind(executionID)])
                    guard let row = counters.first else {
                        throw StoreError(code: .notFound, message: "no such execution", executionID: executionID, query: "append_logs")
                    }
                    guard try row.string("log_cut") != "t" else { continue }
                    let (group, bytes, cut) = capped(byExecution[executionID]!, storedBytes: try row.requiredInt64("log_bytes"))
                    let bumped = try await connection.query(
                        "UPDATE executions SET log_seq = log_seq + $2, log_bytes = $3, log_cut = $4 WHERE id = $1 RETURNING log_seq",
                        [PostgresBind(executionID), PostgresBind(group.count), PostgresBind(bytes), PostgresBind(cut)]
                    )
                    let last = try bumped.first?.requiredInt64("log_seq") ?? 0
                    var seq = last - Int64(group.count)
                    let numbered: [StoredLogChunk] = group.map { chunk in
                        seq += 1
                        return StoredLogChunk(
                            executionID: executionID, attempt: chunk.attempt, stream: chunk.stream, seq: seq,
                            bytes: chunk.bytes, timestamp: chunk.timestamp
                        )
                    }
                    var start = 0
                    while start < numbered.count {
                        let batch = numbered[start..<min(start + Self.logRowsPerStatement, numbered.count)]
                        try await insert(batch, executionID: executionID, connection: connection)
                        start += batch.count
                    }
                    try await notify(connection, StoreNotification.logsChannel, executionID)
                    stored.append(contentsOf: numbered)
                }
                return stored
            }
        }
    }

    /// The chunks of `group` that fit under the cap after `storedBytes`: the one crossing it cut
    /// at the cap and followed by a marker; the new byte count, and whether the output is now cut.
    private func capped(_ group: [NewLogChunk], storedBytes: Int64) -> (chunks: [NewLogChunk], bytes: Int64, cut: Bool) {
        var kept: [NewLogChunk] = []
        var bytes = storedBytes
        for chunk in group {
            let size = Int64(chunk.bytes.count)
            if bytes + size <= maxLogBytesPerExecution {
                kept.append(chunk)
                bytes += size
                continue
            }
            let room = Int(maxLogBytesPerExecution - bytes)
            if room > 0 {
                var part = chunk
                part.bytes = Array(chunk.bytes.prefix(room))
                kept.append(part)
                bytes += Int64(room)
            }
            var marker = chunk
            marker.bytes = Array(Self.cutMarker(maxLogBytesPerExecution).utf8)
            kept.append(marker)
            return (kept, bytes, true)
        }
        return (kept, bytes, false)
    }

    /// The chunk stored where an execution's output was cut.
    static func cutMarker(_ limit: Int64) -> String {
        "\n[berth] output cut here: this execution's stored output reached its limit of \(limit) bytes (outputs.max_log_bytes); later output is not stored\n"
    }

    /// Reads log chunks in `seq` order (descending with `newestFirst`).
    public func logs(_ query: LogQuery) async throws(StoreError) -> [StoredLogChunk] {
        guard (1...10_000).contains(query.limit) else {
            throw StoreError(code: .invalidArgument, message: "limit must be 1…10000, not \(query.limit)", executionID: query.executionID, query: "read_logs")
        }
        return try await perform("read_logs", execution: query.executionID) {
            var conditions = SQLConditions()
            conditions.add("execution_id = \(conditions.bind(PostgresBind(query.executionID)))")
            if let stream = query.stream { conditions.add("stream = \(conditions.bind(PostgresBind(stream.rawValue)))") }
            if let attempt = query.attempt { conditions.add("attempt = \(conditions.bind(PostgresBind(attempt)))") }
            if let after = query.afterSeq { conditions.add("seq > \(conditions.bind(PostgresBind(after)))") }
            if let before = query.beforeSeq { conditions.add("seq < \(conditions.bind(PostgresBind(before)))") }
            if let since = query.since { conditions.add("at >= berth_ts(\(conditions.bind(PostgresBind(micros: since)))::bigint)") }
            let limit = conditions.bind(PostgresBind(query.limit))
            let rows = try await pool.withConnection { connection in
                try await connection.query(
                    """
                    SELECT execution_id, attempt, stream, seq, data, berth_us(at) AS at_us
                    FROM log_chunks \(conditions.whereClause) ORDER BY seq \(query.newestFirst ? "DESC" : "ASC") LIMIT \(limit)
                    """,
                    conditions.parameters
                )
            }
            return try rows.map { row in
                let streamText = try row.string("stream")
                guard let stream = LogStream(rawValue: streamText) else {
                    throw PostgresError(code: .decodingFailed, message: "unknown log stream \"\(streamText)\"")
                }
                return StoredLogChunk(
                    executionID: query.executionID,
                    attempt: Int(try row.requiredInt64("attempt")),
                    stream: stream,
                    seq: try row.requiredInt64("seq"),
                    bytes: try row.bytes("data") ?? [],
                    timestamp: try ExecutionRow.required(row.date(micros: "at_us"), "at_us")
                )
            }
        }
    }

    private func insert(_ batch: ArraySlice<StoredLogChunk>, executionID: UUID, connection: PostgresConnection) async throws {
        var parameters: [PostgresBind?] = [PostgresBind(executionID)]
        var rows: [String] = []
        for chunk in batch {
            let base = parameters.count
            parameters.append(PostgresBind(chunk.seq))
            parameters.append(PostgresBind(chunk.attempt))
            parameters.append(PostgresBind(chunk.stream.rawValue))
            parameters.append(.binary(chunk.bytes))
            parameters.append(PostgresBind(micros: chunk.timestamp))
            rows.append("($1, $\(base + 1)::bigint, $\(base + 2)::integer, $\(base + 3), $\(base + 4)::bytea, berth_ts($\(base + 5)::bigint))")
        }
        try await connection.query(
            "INSERT INTO log_chunks (execution_id, seq, attempt, stream, data, at) VALUES " + rows.joined(separator: ", "),
            parameters
        )
    }
}
