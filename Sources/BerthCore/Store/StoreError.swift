public import Foundation

/// An error from a ``Store``: what went wrong, in which execution and which query.
///
/// Messages never contain credentials. The underlying driver error, if any, is kept in
/// ``cause`` for logging.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// What kind of error this is. A struct over a private enum, so adding a kind breaks nobody.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case unavailable, notFound, conflict, invalidTransition, invalidArgument
            case migrationFailed, corruptData, internalError
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The database could not be reached or the connection broke.
        public static let unavailable = Code(.unavailable)
        /// The execution (or other row) does not exist.
        public static let notFound = Code(.notFound)
        /// A uniqueness or foreign-key rule refused the write.
        public static let conflict = Code(.conflict)
        /// The requested state change is not allowed by the state diagram.
        public static let invalidTransition = Code(.invalidTransition)
        /// An argument was out of range or malformed.
        public static let invalidArgument = Code(.invalidArgument)
        /// A schema migration failed.
        public static let migrationFailed = Code(.migrationFailed)
        /// A stored row could not be decoded.
        public static let corruptData = Code(.corruptData)
        /// Anything else; see ``StoreError/cause``.
        public static let internalError = Code(.internalError)

        /// A stable snake_case name for logs and problem details.
        public var description: String {
            switch value {
            case .unavailable: "unavailable"
            case .notFound: "not_found"
            case .conflict: "conflict"
            case .invalidTransition: "invalid_transition"
            case .invalidArgument: "invalid_argument"
            case .migrationFailed: "migration_failed"
            case .corruptData: "corrupt_data"
            case .internalError: "internal"
            }
        }
    }

    /// What kind of error this is.
    public var code: Code
    /// A human-readable description, free of credentials.
    public var message: String
    /// The execution concerned, if any.
    public var executionID: UUID?
    /// A short name of the operation or query that failed (`transition`, `claim`, …).
    public var query: String?
    /// The underlying error, such as the driver's error with its SQLSTATE.
    public var cause: (any Error & Sendable)?

    /// Creates a Store error.
    /// - Parameters:
    ///   - code: What kind of error this is.
    ///   - message: A human-readable description, free of credentials.
    ///   - executionID: The execution concerned, if any.
    ///   - query: A short name of the operation that failed.
    ///   - cause: The underlying error.
    public init(
        code: Code, message: String, executionID: UUID? = nil, query: String? = nil,
        cause: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.executionID = executionID
        self.query = query
        self.cause = cause
    }

    /// `code: message (query …, execution …) caused by …`.
    public var description: String {
        var text = "\(code): \(message)"
        var context: [String] = []
        if let query { context.append("query \(query)") }
        if let executionID { context.append("execution \(executionID.uuidString.lowercased())") }
        if !context.isEmpty { text += " (\(context.joined(separator: ", ")))" }
        if let cause { text += " caused by \(cause)" }
        return text
    }
}
