public import BerthCore
import BerthHTTP
import BerthPluginKit
import Crypto
import CurlHTTP
public import Foundation
public import Logging

/// Signs webhook bodies: `Berth-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
/// with the deployment's webhook secret (`webhooks.secret_file`). A receiver recomputes it with
/// the same secret and refuses a stale `t`, so a captured call cannot be replayed later.
public struct WebhookSigner: Sendable {
    private let key: [UInt8]

    /// A signer with `secret` (at least 16 bytes).
    public init(secret: [UInt8]) {
        self.key = secret
    }

    /// The `Berth-Signature` value for `body` sent at `time` (seconds since 1970).
    public func signature(body: [UInt8], time: Int) -> String {
        var mac = HMAC<SHA256>(key: SymmetricKey(data: key))
        mac.update(data: Array("\(time).".utf8))
        mac.update(data: body)
        return "t=\(time),v1=" + Data(mac.finalize()).map { String(format: "%02x", $0) }.joined()
    }
}

/// Sends the webhook deliveries the terminal transitions write to the outbox: `POST` of
/// `{"type": "execution.finished", "delivery_id", "execution"}`, signed, with a 10 s timeout.
/// A 2xx answer delivers it; anything else is tried again after 1, 2, 4 … seconds (at most an
/// hour apart) until ``maxAttempts``. Every server runs one; the Store's `SKIP LOCKED` claim
/// gives each delivery to one of them, and a lease returns it if that server dies mid-call.
public struct WebhookDispatcher: Sendable {
    let store: any Store
    let signer: WebhookSigner
    let logger: Logger
    /// Tries before a delivery is given up.
    public var maxAttempts = 10
    /// The first retry's wait; it doubles for each further try.
    public var firstBackoff: Duration = .seconds(1)
    /// How often due retries are looked for when no execution changes.
    public var pollInterval: Duration = .seconds(2)

    /// A dispatcher sending through `store`'s outbox.
    public init(store: any Store, signer: WebhookSigner, logger: Logger) {
        self.store = store
        self.signer = signer
        self.logger = logger
    }

    /// Sends deliveries until cancelled: woken by every execution change, and every
    /// ``pollInterval`` for retries that came due.
    public func run() async {
        let wakes = ExecutionChangeWakes(store: store, every: pollInterval)
        defer { wakes.cancel() }
        for await _ in wakes.stream {
            await sendDue()
            if Task.isCancelled { break }
        }
    }

    /// Sends every delivery that is due now; returns how many were tried.
    @discardableResult
    public func sendDue() async -> Int {
        var tried = 0
        while !Task.isCancelled {
            let due: [WebhookDelivery]
            do {
                due = try await store.claimWebhookDeliveries(limit: 16, lease: .seconds(60))
            } catch {
                logger.warning("could not claim webhook deliveries", metadata: ["error": "\(error)"])
                return tried
            }
            if due.isEmpty { return tried }
            await withTaskGroup(of: Void.self) { group in
                for delivery in due { group.addTask { await self.deliver(delivery) } }
            }
            tried += due.count
        }
        return tried
    }

    /// One try of one delivery, and its outcome recorded.
    func deliver(_ delivery: WebhookDelivery) async {
        var logger = self.logger
        logger[metadataKey: "execution"] = "\(delivery.executionID)"
        logger[metadataKey: "delivery"] = "\(delivery.id)"
        let failure: String
        do {
            let status = try await post(delivery)
            if (200..<300).contains(status) {
                try await store.finishWebhookDelivery(delivery.id, delivered: true, error: nil, retryAt: nil)
                logger.info("webhook delivered", metadata: ["status": "\(status)", "attempt": "\(delivery.attempts + 1)"])
                return
            }
            failure = "the receiver answered HTTP \(status)"
        } catch {
            failure = "\(error)"
        }
        let attempt = delivery.attempts + 1
        let retryAt: Date? = attempt < maxAttempts ? Date().addingTimeInterval(backoff(after: attempt)) : nil
        logger.warning(retryAt == nil ? "webhook given up" : "webhook failed; will retry", metadata: [
            "attempt": "\(attempt)", "error": "\(failure)",
        ])
        try? await store.finishWebhookDelivery(delivery.id, delivered: false, error: failure, retryAt: retryAt)
    }

    /// Seconds before the try after `attempt` tries.
    func backoff(after attempt: Int) -> Double {
        let (seconds, attoseconds) = firstBackoff.components
        let first = Double(seconds) + Double(attoseconds) / 1e18
        return min(first * pow(2, Double(attempt - 1)), 3600)
    }

    /// POSTs the delivery's body; returns the HTTP status.
    private func post(_ delivery: WebhookDelivery) async throws -> Int {
        guard let execution = try await store.execution(id: delivery.executionID) else {
            throw WebhookError("the execution no longer exists")
        }
        guard let url = URL(string: delivery.url), let scheme = url.scheme, let host = url.host else {
            throw WebhookError("not a URL: \(delivery.url)")
        }
        let origin = "\(scheme)://\(host.contains(":") ? "[\(host)]" : host)" + (url.port.map { ":\($0)" } ?? "")
        let path = (url.path.isEmpty ? "/" : url.path) + (url.query.map { "?\($0)" } ?? "")
        let body: JSONValue = [
            "type": "execution.finished", "delivery_id": .string(Wire.id(delivery.id)), "execution": Wire.execution(execution),
        ]
        let bytes = body.serialized()
        let time = Int(Date().timeIntervalSince1970)
        let transport = CurlTransport(endpoint: .url(origin), connectTimeout: 5)
        let response = try await transport.send(HTTPRequest(
            method: "POST", path: path,
            headers: [
                "Content-Type": "application/json", "User-Agent": "berth-webhook",
                "Berth-Webhook-Id": Wire.id(delivery.id), "Berth-Signature": signer.signature(body: bytes, time: time),
            ],
            body: bytes, timeout: 10))
        return response.status
    }
}

/// A webhook could not be sent; the message says why.
struct WebhookError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
