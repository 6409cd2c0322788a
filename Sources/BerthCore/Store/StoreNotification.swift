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
    /// Not a database channel: delivered to every stream each time the listener has (re)connected
    /// and is listening. Anything may have been missed before it: re-read what you follow.
    public static let resyncChannel = "berth_resync"

    /// Whether this is the (re)connect marker: re-read, something may have been missed.
    public var isResync: Bool { channel == Self.resyncChannel }
}
