public import Foundation

/// What the Store remembers about a target host.
///
/// Hosts come from configuration; the record keeps what other server instances need to see:
/// which plugin serves it, its labels, whether it is reachable, and when it was last seen.
public struct HostRecord: Sendable, Hashable, Codable {
    /// The host's configured name (`local`, `gpu-box`, …).
    public var name: String
    /// The backend plugin that serves it (`docker`, `kubernetes`, …).
    public var plugin: String
    /// Labels used to match executions to hosts.
    public var labels: [String: String]
    /// How many executions it may run at once; `nil` when unlimited or unknown.
    public var capacity: Int?
    /// A short status word, such as `ready` or `unavailable`.
    public var status: String
    /// When a server last heard from the host.
    public var lastSeenAt: Date

    /// Creates a host record.
    /// - Parameters:
    ///   - name: The host's configured name.
    ///   - plugin: The backend plugin that serves it.
    ///   - labels: Labels used for matching.
    ///   - capacity: How many executions it may run at once.
    ///   - status: A short status word.
    ///   - lastSeenAt: When a server last heard from the host.
    public init(
        name: String, plugin: String, labels: [String: String] = [:], capacity: Int? = nil,
        status: String = "ready", lastSeenAt: Date = Date()
    ) {
        self.name = name
        self.plugin = plugin
        self.labels = labels
        self.capacity = capacity
        self.status = status
        self.lastSeenAt = lastSeenAt
    }
}
