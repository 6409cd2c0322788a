public import Foundation

/// One call of an execution's webhook, from the outbox the terminal transition writes.
public struct WebhookDelivery: Sendable, Hashable {
    /// The delivery's id (sent as `Berth-Webhook-Id`, the same on every retry).
    public var id: UUID
    /// The execution that ended.
    public var executionID: UUID
    /// Where to POST.
    public var url: String
    /// Tries made before this one.
    public var attempts: Int

    /// A delivery.
    public init(id: UUID, executionID: UUID, url: String, attempts: Int) {
        self.id = id
        self.executionID = executionID
        self.url = url
        self.attempts = attempts
    }
}
