public import Foundation

/// The position after which a page of executions starts: the last row of the previous page.
///
/// Listings are ordered newest first by `(createdAt, id)`; paging by key means a row inserted
/// between two page reads never shifts the pages (no duplicates, no omissions).
public struct ExecutionCursor: Sendable, Hashable, Codable {
    /// The `created_at` of the last row seen, in microseconds since 1970 (the database's precision).
    public var createdAtMicros: Int64
    /// The id of the last row seen.
    public var id: UUID

    /// Creates a cursor.
    /// - Parameters:
    ///   - createdAtMicros: `created_at` in microseconds since 1970.
    ///   - id: The id of the last row seen.
    public init(createdAtMicros: Int64, id: UUID) {
        self.createdAtMicros = createdAtMicros
        self.id = id
    }

    /// An opaque token for APIs: `<micros>_<uuid>`.
    public var token: String { "\(createdAtMicros)_\(id.uuidString.lowercased())" }

    /// The most digits a token's time may have: up to the year 5138, which every stored time
    /// is before, and well inside what PostgreSQL's `timestamptz` can hold.
    public static let maxMicrosDigits = 17

    /// Parses a token made by ``token``; `nil` when malformed or its time is out of range.
    /// - Parameter token: A token from ``token``.
    public init?(token: String) {
        let parts = token.split(separator: "_", maxSplits: 1)
        guard parts.count == 2, (1...Self.maxMicrosDigits).contains(parts[0].utf8.count),
              parts[0].utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let micros = Int64(parts[0]), let id = UUID(uuidString: String(parts[1]))
        else { return nil }
        self.init(createdAtMicros: micros, id: id)
    }
}

/// Filters and paging for listing executions. Every filter that is set must match.
public struct ExecutionQuery: Sendable, Hashable {
    /// Only executions in one of these states; empty means any state.
    public var states: Set<ExecutionState>
    /// Only executions placed on (or asking for) this host.
    public var host: String?
    /// Only executions of this owner.
    public var owner: String?
    /// Only executions carrying all these labels with these values.
    public var labels: [String: String]
    /// Only executions with exactly this name.
    public var name: String?
    /// Start after this row (the previous page's ``ExecutionPage/next``).
    public var after: ExecutionCursor?
    /// At most this many rows (1…1000).
    public var limit: Int

    /// Creates a query.
    /// - Parameters:
    ///   - states: Only these states; empty means any.
    ///   - host: Only this host.
    ///   - owner: Only this owner.
    ///   - labels: Only executions with all these labels.
    ///   - name: Only this name.
    ///   - after: Start after this row.
    ///   - limit: At most this many rows (1…1000).
    public init(
        states: Set<ExecutionState> = [], host: String? = nil, owner: String? = nil,
        labels: [String: String] = [:], name: String? = nil, after: ExecutionCursor? = nil, limit: Int = 100
    ) {
        self.states = states
        self.host = host
        self.owner = owner
        self.labels = labels
        self.name = name
        self.after = after
        self.limit = limit
    }
}

/// One page of a listing.
public struct ExecutionPage: Sendable, Hashable {
    /// The rows, newest first.
    public var executions: [Execution]
    /// The cursor for the next page; `nil` when this page is the last.
    public var next: ExecutionCursor?

    /// Creates a page.
    /// - Parameters:
    ///   - executions: The rows, newest first.
    ///   - next: The cursor for the next page.
    public init(executions: [Execution], next: ExecutionCursor?) {
        self.executions = executions
        self.next = next
    }
}
