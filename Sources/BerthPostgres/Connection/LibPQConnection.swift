import CLibPQ
import Foundation

/// A blocking libpq connection. Not thread-safe: its owner runs every call on one thread or
/// serial queue (``PostgresConnection`` uses a queue, ``PostgresListener`` its own thread).
final class LibPQConnection {
    private var handle: OpaquePointer?
    /// Statements prepared on this session, by their text.
    private var prepared: [String: String] = [:]

    /// Opens a connection (blocking).
    init(configuration: PostgresConfiguration) throws(PostgresError) {
        var keywords = ["dbname", "application_name", "connect_timeout"]
        var values = [configuration.connectionString, configuration.applicationName, String(configuration.connectTimeoutSeconds)]
        for key in configuration.overrides.keys.sorted() {
            keywords.append(key)
            values.append(configuration.overrides[key]!)
        }
        let connection = Self.withCStrings(keywords) { keywordPointers in
            Self.withCStrings(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError(
                code: .connectionFailed,
                message: "\(message) (connecting to \(configuration.redactedDescription))"
            )
        }
        handle = connection
    }

    deinit { close() }

    /// Closes the connection; further calls fail with `connectionBroken`.
    func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    /// Whether the connection is open and usable.
    var isHealthy: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Whether the connection is outside any transaction block.
    var isIdle: Bool {
        guard let handle else { return false }
        return PQtransactionStatus(handle) == PQTRANS_IDLE
    }

    /// The socket, for `poll`.
    var socket: Int32 { handle.map { PQsocket($0) } ?? -1 }

    /// The server's process id for this session.
    var backendPID: Int32 { handle.map { PQbackendPID($0) } ?? 0 }

    /// Runs one statement with parameters (`$1`, `$2`, …) and returns its rows.
    func query(_ sql: String, _ parameters: [PostgresBind?]) throws(PostgresError) -> PostgresRows {
        let handle = try requireHandle(sql)
        var buffers: [UnsafeMutablePointer<CChar>?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        defer { buffers.forEach { $0?.deallocate() } }
        for parameter in parameters {
            switch parameter {
            case nil:
                buffers.append(nil); lengths.append(0); formats.append(0)
            case .text(let text):
                let utf8 = Array(text.utf8CString)
                let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count)
                buffer.initialize(from: utf8, count: utf8.count)
                buffers.append(buffer); lengths.append(Int32(utf8.count - 1)); formats.append(0)
            case .binary(let bytes):
                let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(bytes.count, 1))
                bytes.withUnsafeBytes { raw in
                    if let base = raw.baseAddress { UnsafeMutableRawPointer(buffer).copyMemory(from: base, byteCount: raw.count) }
                }
                buffers.append(buffer); lengths.append(Int32(bytes.count)); formats.append(1)
            }
        }
        let prepared = try preparedName(sql, parameterCount: parameters.count, handle: handle)
        let result = buffers.map { UnsafePointer($0) }.withUnsafeBufferPointer { values in
            if let prepared {
                PQexecPrepared(handle, prepared, Int32(parameters.count), values.baseAddress, lengths, formats, 0)
            } else {
                PQexecParams(handle, sql, Int32(parameters.count), nil, values.baseAddress, lengths, formats, 0)
            }
        }
        return try check(result, sql)
    }

    /// The most statements one connection keeps prepared; statements past it run unprepared.
    static let maxPrepared = 256

    /// The name `sql` is prepared under on this connection (prepared now on its first use), or
    /// nil when the cache is full. The server parses and plans a prepared statement once, not
    /// on every call.
    private func preparedName(_ sql: String, parameterCount: Int, handle: OpaquePointer) throws(PostgresError) -> String? {
        if let name = prepared[sql] { return name }
        guard prepared.count < Self.maxPrepared else { return nil }
        let name = "berth_\(prepared.count)"
        _ = try check(PQprepare(handle, name, sql, Int32(parameterCount), nil), sql)
        prepared[sql] = name
        return name
    }

    /// Runs one or more statements with no parameters (migrations, `BEGIN`, `LISTEN`).
    func execute(_ sql: String) throws(PostgresError) {
        let handle = try requireHandle(sql)
        _ = try check(PQexec(handle, sql), sql)
    }

    /// Reads what the server sent without blocking; false if the connection broke.
    func consumeInput() -> Bool {
        guard let handle else { return false }
        return PQconsumeInput(handle) == 1
    }

    /// The next pending notification, if any.
    func nextNotification() -> (channel: String, payload: String)? {
        guard let handle, let notify = PQnotifies(handle) else { return nil }
        defer { PQfreemem(notify) }
        return (String(cString: notify.pointee.relname), String(cString: notify.pointee.extra))
    }

    /// Quotes an identifier for SQL (for `LISTEN`, `CREATE DATABASE`, where parameters are not allowed).
    func quoteIdentifier(_ name: String) throws(PostgresError) -> String {
        let handle = try requireHandle(nil)
        guard let escaped = PQescapeIdentifier(handle, name, name.utf8.count) else {
            throw PostgresError(code: .queryFailed, message: Self.trimmed(PQerrorMessage(handle)))
        }
        defer { PQfreemem(escaped) }
        return String(cString: escaped)
    }

    /// The one place a libpq result becomes rows or a typed error. Frees the result.
    private func check(_ result: OpaquePointer?, _ sql: String) throws(PostgresError) -> PostgresRows {
        guard let result else {
            let message = handle.map { Self.trimmed(PQerrorMessage($0)) } ?? "no connection"
            throw PostgresError(code: isHealthy ? .queryFailed : .connectionBroken, message: message, statement: sql)
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let primary = berth_pq_result_primary_message(result).map { String(cString: $0) }
            let detail = berth_pq_result_detail(result).map { String(cString: $0) }
            var message = primary ?? Self.trimmed(PQresultErrorMessage(result))
            if message.isEmpty, let handle { message = Self.trimmed(PQerrorMessage(handle)) }
            if let detail { message += " — \(detail)" }
            let sqlState = berth_pq_result_sqlstate(result).map { String(cString: $0) }
            throw PostgresError(
                code: isHealthy ? .queryFailed : .connectionBroken, message: message, sqlState: sqlState, statement: sql
            )
        }
        let columnCount = Int(PQnfields(result))
        let rowCount = Int(PQntuples(result))
        var columns: [String] = []
        columns.reserveCapacity(columnCount)
        for column in 0..<columnCount { columns.append(String(cString: PQfname(result, Int32(column)))) }
        var values: [[String?]] = []
        values.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var rowValues: [String?] = []
            rowValues.reserveCapacity(columnCount)
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    rowValues.append(nil)
                } else {
                    rowValues.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                }
            }
            values.append(rowValues)
        }
        let affected = PQcmdTuples(result).map { String(cString: $0) }.flatMap { Int($0) }
        return PostgresRows(columns: columns, values: values, affectedRows: affected)
    }

    private func requireHandle(_ sql: String?) throws(PostgresError) -> OpaquePointer {
        guard let handle else {
            throw PostgresError(code: .connectionBroken, message: "the connection is closed", statement: sql)
        }
        return handle
    }

    private static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { pointers.forEach { free($0) } }
        return body(pointers.map { UnsafePointer($0) })
    }
}
