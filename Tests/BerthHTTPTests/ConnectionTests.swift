import BerthHTTP
import BerthPluginKit
import Synchronization
import Testing

/// Connections and pools over real unix socket pairs, with a scripted server on the other end.
@Suite struct HTTP1ConnectionSocketPairTests {
    @Test func keepAliveReuseOnOneConnection() async throws {
        let (client, server) = UnixSocketByteStream.pair()
        let serving = Task { await FakeServer(stream: server).serve { index, head in [okResponse("reply \(index) to \(head.split(separator: "\r\n")[0])")] } }
        let connection = HTTP1Connection(client, endpointDescription: "socketpair")
        let first = try await connection.send(HTTPRequest(method: "GET", path: "/one"))
        #expect(first.status == 200 && first.text == "reply 0 to GET /one HTTP/1.1")
        #expect(connection.isReusable)
        let second = try await connection.send(HTTPRequest(method: "GET", path: "/two"))
        #expect(second.text == "reply 1 to GET /two HTTP/1.1")
        #expect(connection.isReusable && connection.exchangeCount == 2)
        await client.close()
        await serving.value
    }

    @Test func connectionCloseIsNotReused() async throws {
        let (client, server) = UnixSocketByteStream.pair()
        let serving = Task { await FakeServer(stream: server).serve { _, _ in [okResponse("bye", extraHeaders: "Connection: close\r\n")] } }
        let connection = HTTP1Connection(client, endpointDescription: "socketpair")
        let response = try await connection.send(HTTPRequest(method: "GET", path: "/"))
        #expect(response.text == "bye" && !connection.isReusable && client.isClosed)
        await #expect(throws: PluginError.self) { try await connection.send(HTTPRequest(method: "GET", path: "/")) }
        await serving.value
    }

    @Test func streamDeliversPartsAndCancellingClosesTheConnection() async throws {
        let (client, server) = UnixSocketByteStream.pair()
        let serving = Task {
            await FakeServer(stream: server).serve { _, _ in
                [bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"), bytes("6\r\nevent1\r\n")]
            }
        }
        let connection = HTTP1Connection(client, endpointDescription: "socketpair")
        var parts: [HTTPStreamPart] = []
        for try await part in connection.stream(HTTPRequest(method: "GET", path: "/events")) {
            parts.append(part)
            if parts.count == 2 { break }
        }
        #expect(parts == [.head(status: 200, headers: ["transfer-encoding": "chunked"]), .body(bytes("event1"))])
        await serving.value  // ends only when the client side closes
        #expect(client.isClosed && !connection.isReusable)
    }

    @Test func truncatedResponseIsAnError() async throws {
        let (client, server) = UnixSocketByteStream.pair()
        let serving = Task {
            await FakeServer(stream: server).serve { index, _ in index == 0 ? [bytes("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")] : nil }
        }
        let connection = HTTP1Connection(client, endpointDescription: "socketpair")
        let writer = Task { try? await Task.sleep(for: .milliseconds(100)); await server.close() }
        await #expect { try await connection.send(HTTPRequest(method: "GET", path: "/")) } throws: {
            ($0 as? PluginError)?.code == .unavailable
        }
        await writer.value
        await serving.value
    }

    /// A pool whose factory makes socket pairs served by `respond`, counting them.
    static func pool(
        max: Int, respond: @escaping @Sendable (Int, String) async -> [[UInt8]]?
    ) -> (HTTP1ConnectionPool, Counter) {
        let counter = Counter()
        let pool = HTTP1ConnectionPool(endpointDescription: "socketpair", maxConnections: max) { () async throws(PluginError) -> any ByteStream in
            counter.increment()
            let (client, server) = UnixSocketByteStream.pair()
            Task { await FakeServer(stream: server).serve(respond) }
            return client
        }
        return (pool, counter)
    }

    @Test func poolReusesConnectionsAndBoundsThem() async throws {
        let (pool, opened) = Self.pool(max: 3) { _, _ in
            try? await Task.sleep(for: .milliseconds(5))
            return [okResponse("pong")]
        }
        try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<30 { group.addTask { try await pool.send(HTTPRequest(method: "GET", path: "/_ping")).text } }
            for try await text in group { #expect(text == "pong") }
        }
        #expect(opened.value <= 3 && pool.openConnections <= 3 && pool.idleConnections == pool.openConnections)
        await pool.close()
    }

    @Test func poolTimesOutWhenTheServerIsSilent() async throws {
        let (pool, _) = Self.pool(max: 1) { _, _ in
            try? await Task.sleep(for: .seconds(300))
            return [[UInt8]]?.none
        }
        let start = ContinuousClock.now
        await #expect { try await pool.send(HTTPRequest(method: "GET", path: "/slow", timeout: 0.2)) } throws: {
            ($0 as? PluginError)?.code == .timeout
        }
        // Far before the server's 300 s answer (loose: a loaded 2-core machine took 18.5 s).
        #expect(ContinuousClock.now - start < .seconds(60))
        // The timed-out connection was discarded; its slot is free again.
        try await Task.sleep(for: .milliseconds(100))
        #expect(pool.openConnections == 0)
    }

    @Test func poolTimesOutWhileWaitingForASlot() async throws {
        let (pool, _) = Self.pool(max: 1) { _, _ in
            try? await Task.sleep(for: .seconds(1))
            return [okResponse("late")]
        }
        let slow = Task { try await pool.send(HTTPRequest(method: "GET", path: "/slow")) }
        try await Task.sleep(for: .milliseconds(50))
        await #expect { try await pool.send(HTTPRequest(method: "GET", path: "/queued", timeout: 0.2)) } throws: {
            ($0 as? PluginError)?.code == .timeout
        }
        #expect(try await slow.value.text == "late")
    }

    @Test func poolDiscardsClosedConnectionsAndRetriesStaleOnes() async throws {
        // Each connection answers once with keep-alive, then the server closes it.
        let (pool, opened) = Self.pool(max: 2) { index, _ in index == 0 ? [okResponse("once")] : nil }
        for _ in 0..<4 {
            #expect(try await pool.send(HTTPRequest(method: "GET", path: "/")).text == "once")
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(opened.value == 4)
        // A POST is not retried on a stale connection.
        await #expect(throws: PluginError.self) { try await pool.send(HTTPRequest(method: "POST", path: "/x")) }
    }

    @Test func poolStreamCancelledEarlyFreesItsSlot() async throws {
        let (pool, _) = Self.pool(max: 1) { _, head in
            if head.hasPrefix("GET /events") {
                return [bytes("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")]
            }
            return [okResponse("after")]
        }
        for try await part in pool.stream(HTTPRequest(method: "GET", path: "/events")) {
            if case .body = part { break }
        }
        #expect(try await pool.send(HTTPRequest(method: "GET", path: "/next", timeout: 5)).text == "after")
    }
}

/// A thread-safe counter.
final class Counter: Sendable {
    private let count = Atomic(0)
    func increment() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
