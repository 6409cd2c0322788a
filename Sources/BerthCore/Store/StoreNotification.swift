/// A notification from the Store's LISTEN connection.
public struct StoreNotification: Sendable, Hashable {
    /// The channel it was sent on, such as ``executionsChannel``.
    public var channel: String
    /// The payload: for Berth's own channels, the execution id in lowercase.
    public var payload: String

    /// Creates a notification.
    /// - Parameters:
    ///   - channel: The channel.
    ///   - payload: The payload.
    public init(channel: String, payload: String) {
        self.channel = channel
        self.payload = payload
    }

    /// Sent on create and on every state change; payload: the execution id.
    public static let executionsChannel = "berth_executions"
    /// Sent when log chunks are appended; payload: the execution id.
    public static let logsChannel = "berth_logs"
    /// Sent when an API token is revoked; payload: the token id.
    public static let tokensChannel = "berth_tokens"
    /// Not a database channel: delivered to this process's streams right after this process's
    /// Store committed a state change of the execution in the payload, before the database's
    /// `berth_executions` notification comes back; so a cache here never serves the state from
    /// before a change that this process has already reported.
    public static let executionChangedHereChannel = "berth_executions_here"
    /// Not a database channel: delivered to every stream each time the listener has (re)connected
    /// and is listening. Anything may have been missed before it: re-read what you follow.
    public static let resyncChannel = "berth_resync"

    /// Not a database channel: delivered to every stream when the listener lost its
    /// connection. Until the next resync marker no notification arrives: whatever relies on
    /// them to stay fresh (a cache) must not.
    public static let disconnectedChannel = "berth_disconnected"

    /// Whether this is the (re)connect marker: re-read, something may have been missed.
    public var isResync: Bool { channel == Self.resyncChannel }
}
