import BerthCore
import BerthPluginKit
import BerthPostgres
@testable import BerthServer
import BerthTestSupport
import Crypto
import Foundation
import HTTPTypes
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A webhook receiver on 127.0.0.1: answers each request with the next status of `statuses`
/// (the last one repeats) and keeps what it received.
final class WebhookReceiver: Sendable {
    struct Received: Sendable {
        var head: String
        var body: [UInt8]
        func header(_ name: String) -> String? {
            head.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
                .map { String($0.drop { $0 != ":" }.dropFirst()).trimmingCharacters(in: .whitespaces) }
        }
    }

    let port: Int
    private let fd: Int32
    private let state: Mutex<(statuses: [Int], received: [Received])>

    init(statuses: [Int]) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(listener, pointer, length) == 0 && listen(listener, 16) == 0 && getsockname(listener, pointer, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        fd = listener
        port = Int(UInt16(bigEndian: address.sin_port))
        state = Mutex((statuses, []))
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(listener, nil, nil)
                guard client >= 0 else { return }
                self.serve(client)
            }
        }
    }

    var received: [Received] { state.withLock { $0.received } }

    func close() { shutdown(fd, Int32(SHUT_RDWR)); _ = Glibc.close(fd) }

    private func serve(_ client: Int32) {
        defer { _ = Glibc.close(client) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var headEnd: Int?
        var needed = Int.max
        while bytes.count < needed {
            let count = recv(client, &buffer, buffer.count, 0)
            guard count > 0 else { return }
            bytes += buffer[0..<count]
            if headEnd == nil, let range = bytes.firstRange(of: Array("\r\n\r\n".utf8)) {
                headEnd = range.upperBound
                let head = String(decoding: bytes[..<range.lowerBound], as: UTF8.self)
                let length = Received(head: head, body: []).header("Content-Length").flatMap(Int.init) ?? 0
                needed = range.upperBound + length
            }
        }
        guard let headEnd else { return }
        let received = Received(head: String(decoding: bytes[..<(headEnd - 4)], as: UTF8.self), body: Array(bytes[headEnd...]))
        let status = state.withLock { state in
            state.received.append(received)
            return state.statuses.count > 1 ? state.statuses.removeFirst() : state.statuses[0]
        }
        let answer = "HTTP/1.1 \(status) X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        _ = answer.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }
}

@Suite("Webhooks", .postgresServer)
struct WebhookTests {
    static let secret = "test-webhook-secret-0123456789abcdef"

    /// The delivery rows of `execution`: (attempts, delivered, failed, last error).
    private func deliveries(_ store: PostgresStore, _ execution: UUID) async throws -> [(attempts: Int64, delivered: Bool, failed: Bool, error: String?)] {
        try await store.pool.withConnection { connection in
            try await connection.query(
                "SELECT attempts, delivered_at IS NOT NULL AS delivered, failed_at IS NOT NULL AS failed, last_error FROM webhook_deliveries WHERE execution_id = $1",
                [PostgresBind(execution)])
        }.map { row in
            (try row.requiredInt64("attempts"), try row.string("delivered") == "t", try row.string("failed") == "t", try row.text("last_error"))
        }
    }

    @Test("the end of an execution is POSTed once, signed; a failed call is retried with backoff, then delivered")
    func deliveredAfterRetry() async throws {
        let receiver = try WebhookReceiver(statuses: [500, 204])
        defer { receiver.close() }
        var configuration = ServerConfiguration()
        configuration.webhookURLs = ["http://127.0.0.1:*"]
        try await ServerHarness.run(configuration: configuration) { h in
            let url = "http://127.0.0.1:\(receiver.port)/hooks/berth?team=ml"
            let id = try h.id(of: try await h.submit(["image": "x", "webhook_url": .string(url)]))
            #expect(try await deliveries(h.store, id).isEmpty, "nothing before the end")
            _ = try await h.request(.post, "/v1/executions/\(id.uuidString)/cancel")
            var dispatcher = WebhookDispatcher(store: h.store, signer: WebhookSigner(secret: Array(Self.secret.utf8)), logger: TestServer.logger)
            // The backoff is long enough that the check right after the failed try cannot pass it
            // on a loaded machine; the retry is then looked for until it comes due.
            dispatcher.firstBackoff = .seconds(8)
            let firstTry = ContinuousClock.now
            #expect(await dispatcher.sendDue() == 1)
            #expect(try await deliveries(h.store, id).first?.error == "the receiver answered HTTP 500")
            #expect(await dispatcher.sendDue() == 0, "not due before its backoff")
            var retried = 0
            while retried == 0, ContinuousClock.now - firstTry < .seconds(60) {
                try await Task.sleep(for: .milliseconds(250))
                retried = await dispatcher.sendDue()
            }
            #expect(retried == 1)
            #expect(ContinuousClock.now - firstTry >= .seconds(8), "retried before its backoff")
            let rows = try await deliveries(h.store, id)
            #expect(rows.count == 1 && rows[0].delivered && rows[0].attempts == 2)

            let calls = receiver.received
            #expect(calls.count == 2)
            #expect(calls.allSatisfy { $0.head.hasPrefix("POST /hooks/berth?team=ml HTTP/1.1") })
            #expect(calls[0].header("Berth-Webhook-Id") == calls[1].header("Berth-Webhook-Id"), "one delivery id for every try")
            let body = try JSONValue(parsing: calls[1].body)
            #expect(body["type"] == "execution.finished")
            #expect(body["execution"]?["id"] == .string(id.uuidString.lowercased()))
            #expect(body["execution"]?["state"] == "cancelled")
            // The signature checks with the shared secret, computed independently.
            let signature = try #require(calls[1].header("Berth-Signature"))
            let parts = Dictionary(uniqueKeysWithValues: signature.split(separator: ",").map { part in
                (String(part.prefix { $0 != "=" }), String(part.drop { $0 != "=" }.dropFirst()))
            })
            let time = try #require(parts["t"].flatMap(Int.init))
            #expect(abs(time - Int(Date().timeIntervalSince1970)) < 60)
            let expected = HMAC<SHA256>.authenticationCode(
                for: Array("\(time).".utf8) + calls[1].body, using: SymmetricKey(data: Array(Self.secret.utf8)))
            #expect(parts["v1"] == expected.map { String(format: "%02x", $0) }.joined())
        }
    }

    @Test("a receiver that keeps failing is given up after maxAttempts; URLs are checked against the allow-list")
    func givenUpAndAllowList() async throws {
        let receiver = try WebhookReceiver(statuses: [503])
        defer { receiver.close() }
        var configuration = ServerConfiguration()
        configuration.webhookURLs = ["http://127.0.0.1:\(receiver.port)/*"]
        try await ServerHarness.run(configuration: configuration) { h in
            let id = try h.id(of: try await h.submit(["image": "x", "webhook_url": .string("http://127.0.0.1:\(receiver.port)/x")]))
            _ = try await h.request(.post, "/v1/executions/\(id.uuidString)/cancel")
            var dispatcher = WebhookDispatcher(store: h.store, signer: WebhookSigner(secret: Array(Self.secret.utf8)), logger: TestServer.logger)
            dispatcher.firstBackoff = .milliseconds(50)
            dispatcher.maxAttempts = 3
            for _ in 0..<3 {
                _ = await dispatcher.sendDue()
                try await Task.sleep(for: .milliseconds(250))
            }
            let rows = try await deliveries(h.store, id)
            #expect(rows.count == 1 && rows[0].failed && !rows[0].delivered && rows[0].attempts == 3)
            #expect(receiver.received.count == 3)

            for (url, code) in [
                ("http://127.0.0.1:1/x", "webhook_not_allowed"), ("http://10.0.0.1/x", "webhook_not_allowed"),
                ("ftp://127.0.0.1/x", "invalid_field"), ("http://user:pw@127.0.0.1/x", "invalid_field"), ("not a url", "invalid_field"),
            ] {
                let answer = try await h.request(.post, "/v1/executions", json: ["image": "x", "webhook_url": .string(url)])
                try h.expectProblem(answer, status: .unprocessableContent, code: code, field: "webhook_url")
            }
        }
        // A server with no allow-list sends no webhooks at all.
        try await ServerHarness.run { h in
            let answer = try await h.request(.post, "/v1/executions", json: ["image": "x", "webhook_url": "http://127.0.0.1:9/x"])
            try h.expectProblem(answer, status: .unprocessableContent, code: "webhook_not_allowed", field: "webhook_url")
            #expect(try answer.json()["detail"]?.stringValue?.contains("webhooks.allowed_urls is empty") == true)
        }
    }
}
