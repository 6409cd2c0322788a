public import Foundation

/// The rows of a result, copied out of libpq (the `PGresult` is freed at once). Values are text.
public struct PostgresRows: Sendable, RandomAccessCollection {
    /// Column names in order.
    public let columns: [String]
    /// The number of rows the statement affected (`UPDATE`, `INSERT`, …), or nil when not reported.
    public let affectedRows: Int?
    private let values: [[String?]]
    private let index: [String: Int]

    /// Creates a result value.
    /// - Parameters:
    ///   - columns: Column names.
    ///   - values: The rows, each with one optional text value per column.
    ///   - affectedRows: Rows affected by the command.
    public init(columns: [String], values: [[String?]], affectedRows: Int?) {
        self.columns = columns
        self.values = values
        self.affectedRows = affectedRows
        var index: [String: Int] = [:]
        for (position, name) in columns.enumerated() where index[name] == nil { index[name] = position }
        self.index = index
    }

    /// The first row index.
    public var startIndex: Int { 0 }
    /// One past the last row index.
    public var endIndex: Int { values.count }
    /// The row at `position`.
    public subscript(position: Int) -> PostgresRow {
        PostgresRow(values: values[position], index: index)
    }
}

/// One row of a result, read by column name. Decoding failures throw ``PostgresError``.
public struct PostgresRow: Sendable {
    fileprivate let values: [String?]
    fileprivate let index: [String: Int]

    /// The raw text of a column, `nil` for SQL NULL.
    /// - Parameter column: The column name.
    public func text(_ column: String) throws(PostgresError) -> String? {
        guard let position = index[column] else {
            throw PostgresError(code: .decodingFailed, message: "no column \"\(column)\" in the result")
        }
        return values[position]
    }

    /// A non-NULL text column.
    /// - Parameter column: The column name.
    public func string(_ column: String) throws(PostgresError) -> String {
        guard let value = try text(column) else { throw Self.null(column) }
        return value
    }

    /// An integer column, `nil` for NULL.
    /// - Parameter column: The column name.
    public func int64(_ column: String) throws(PostgresError) -> Int64? {
        guard let value = try text(column) else { return nil }
        guard let number = Int64(value) else { throw Self.bad(column, value, "an integer") }
        return number
    }

    /// A non-NULL integer column.
    /// - Parameter column: The column name.
    public func requiredInt64(_ column: String) throws(PostgresError) -> Int64 {
        guard let value = try int64(column) else { throw Self.null(column) }
        return value
    }

    /// A floating-point column, `nil` for NULL.
    /// - Parameter column: The column name.
    public func double(_ column: String) throws(PostgresError) -> Double? {
        guard let value = try text(column) else { return nil }
        guard let number = Double(value) else { throw Self.bad(column, value, "a number") }
        return number
    }

    /// A boolean column (`t`/`f`), `nil` for NULL.
    /// - Parameter column: The column name.
    public func bool(_ column: String) throws(PostgresError) -> Bool? {
        guard let value = try text(column) else { return nil }
        switch value {
        case "t", "true": return true
        case "f", "false": return false
        default: throw Self.bad(column, value, "a boolean")
        }
    }

    /// A UUID column, `nil` for NULL.
    /// - Parameter column: The column name.
    public func uuid(_ column: String) throws(PostgresError) -> UUID? {
        guard let value = try text(column) else { return nil }
        guard let id = UUID(uuidString: value) else { throw Self.bad(column, value, "a UUID") }
        return id
    }

    /// A date from an integer column of microseconds since 1970 (see `berth_us`), `nil` for NULL.
    /// - Parameter column: The column name.
    public func date(micros column: String) throws(PostgresError) -> Date? {
        try int64(column).map { PostgresTime.date(micros: $0) }
    }

    /// A `bytea` column in the server's hex output format (`\x…`), `nil` for NULL.
    /// - Parameter column: The column name.
    public func bytes(_ column: String) throws(PostgresError) -> [UInt8]? {
        guard let value = try text(column) else { return nil }
        let utf8 = Array(value.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"), utf8.count % 2 == 0 else {
            throw Self.bad(column, String(value.prefix(16)), "hex bytea")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity((utf8.count - 2) / 2)
        var position = 2
        while position < utf8.count {
            guard let high = Self.nibble(utf8[position]), let low = Self.nibble(utf8[position + 1]) else {
                throw Self.bad(column, String(value.prefix(16)), "hex bytea")
            }
            bytes.append(high << 4 | low)
            position += 2
        }
        return bytes
    }

    /// A JSON column decoded as `T`, `nil` for NULL.
    /// - Parameters:
    ///   - type: The type to decode.
    ///   - column: The column name.
    public func json<T: Decodable>(_ type: T.Type, _ column: String) throws(PostgresError) -> T? {
        guard let value = try text(column) else { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: Data(value.utf8))
        } catch {
            throw PostgresError(code: .decodingFailed, message: "column \"\(column)\" is not valid JSON for \(T.self): \(error)")
        }
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func null(_ column: String) -> PostgresError {
        PostgresError(code: .decodingFailed, message: "column \"\(column)\" is NULL")
    }

    private static func bad(_ column: String, _ value: String, _ expected: String) -> PostgresError {
        PostgresError(code: .decodingFailed, message: "column \"\(column)\" holds \"\(value)\", not \(expected)")
    }
}
