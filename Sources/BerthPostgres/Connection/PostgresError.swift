/// A failure reported by libpq or by the server, with libpq's own message and the SQLSTATE.
///
/// Never carries a password: connection strings are redacted before they go into a message.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is. A struct over a private enum, so adding a kind breaks nobody.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case connectionFailed, connectionBroken, queryFailed, decodingFailed, poolClosed
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A connection could not be opened.
        public static let connectionFailed = Code(.connectionFailed)
        /// An open connection broke (server restart, network, terminated backend).
        public static let connectionBroken = Code(.connectionBroken)
        /// The server refused or failed a statement; see ``PostgresError/sqlState``.
        public static let queryFailed = Code(.queryFailed)
        /// A result value did not have the expected type or form.
        public static let decodingFailed = Code(.decodingFailed)
        /// The pool was shut down.
        public static let poolClosed = Code(.poolClosed)

        /// A stable snake_case name.
        public var description: String {
            switch value {
            case .connectionFailed: "connection_failed"
            case .connectionBroken: "connection_broken"
            case .queryFailed: "query_failed"
            case .decodingFailed: "decoding_failed"
            case .poolClosed: "pool_closed"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// libpq's or the server's message, trimmed.
    public var message: String
    /// The five-character SQLSTATE (`40001`, `23505`, …), when the server sent one.
    public var sqlState: String?
    /// The first line of the statement that failed, when a statement failed. Never parameter values.
    public var statement: String?

    /// Creates an error.
    /// - Parameters:
    ///   - code: What kind of failure this is.
    ///   - message: The library's message.
    ///   - sqlState: The SQLSTATE, if any.
    ///   - statement: The statement that failed, if any.
    public init(code: Code, message: String, sqlState: String? = nil, statement: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.statement = statement.map(Self.abbreviate)
    }

    /// Whether the server reported a unique-constraint or foreign-key violation (class 23).
    public var isIntegrityViolation: Bool { sqlState?.hasPrefix("23") ?? false }

    /// `code [SQLSTATE]: message (statement: …)`.
    public var description: String {
        var text = "\(code)"
        if let sqlState { text += " [\(sqlState)]" }
        text += ": \(message)"
        if let statement { text += " (statement: \(statement))" }
        return text
    }

    private static func abbreviate(_ sql: String) -> String {
        let collapsed = sql.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        return collapsed.count > 160 ? String(collapsed.prefix(160)) + "…" : collapsed
    }
}
