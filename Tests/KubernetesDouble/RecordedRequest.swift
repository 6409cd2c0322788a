/// A request the double answered, for tests that check what a client asked.
public struct RecordedRequest: Sendable, Hashable, CustomStringConvertible {
    /// The method (`GET`).
    public let method: String
    /// The path, without the query.
    public let path: String
    /// The query as sent (percent-encoded), empty when none.
    public let query: String
    /// The status answered (for a stream: the status it began with).
    public let status: Int

    /// A recorded request.
    public init(method: String, path: String, query: String, status: Int) {
        self.method = method
        self.path = path
        self.query = query
        self.status = status
    }

    public var description: String { "\(method) \(path)\(query.isEmpty ? "" : "?" + query) → \(status)" }
}
