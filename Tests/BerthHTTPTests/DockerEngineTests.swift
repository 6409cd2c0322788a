import BerthHTTP
import BerthPluginKit
import Foundation
import Synchronization
import Testing

/// The test Docker engine's socket, or an error saying how to start it: these tests fail,
/// never skip, without the services.
struct MissingDockerEngine: Error, CustomStringConvertible {
    var description: String {
        "BERTH_TEST_DOCKER_SOCKET is not set: start the test services with `scripts/test-services.sh up` and `source` the env file it prints (/tmp/berth-test-services/env), or run `scripts/test.sh`"
    }
}

func dockerSocket() throws -> String {
    guard let path = ProcessInfo.processInfo.environment["BERTH_TEST_DOCKER_SOCKET"], !path.isEmpty else {
        throw MissingDockerEngine()
    }
    return path
}

/// The HTTP/1.1 codec against the real test Docker engine, through its unix socket.
@Suite struct HTTP1DockerEngineTests {
    @Test func ping() async throws {
        let connection = HTTP1Connection(try UnixSocketByteStream.connect(path: try dockerSocket()), endpointDescription: "test engine")
        let response = try await connection.send(HTTPRequest(method: "GET", path: "/_ping"))
        #expect(response.status == 200 && response.text == "OK")
        #expect(response.headers["api-version"] != nil)
        await connection.byteStream.close()
    }

    @Test func versionAndKeepAlive() async throws {
        let connection = HTTP1Connection(try UnixSocketByteStream.connect(path: try dockerSocket()), endpointDescription: "test engine")
        let version = try await connection.send(HTTPRequest(method: "GET", path: "/version"))
        #expect(version.status == 200)
        #expect(try version.json()["ApiVersion"]?.stringValue != nil)
        #expect(connection.isReusable)
        let ping = try await connection.send(HTTPRequest(method: "HEAD", path: "/_ping"))
        #expect(ping.status == 200 && ping.body.isEmpty)
        let missing = try await connection.send(HTTPRequest(method: "GET", path: "/v1.41/containers/berth-no-such-container/json"))
        #expect(missing.status == 404 && missing.text.contains("berth-no-such-container"))
        #expect(connection.isReusable && connection.exchangeCount == 3)
        await connection.byteStream.close()
    }

    @Test func followedEventsCancelledEarly() async throws {
        let socket = try dockerSocket()
        let streams = StreamLog()
        let pool = HTTP1ConnectionPool(endpointDescription: "test engine", maxConnections: 2) { () async throws(PluginError) -> any ByteStream in
            let stream = try UnixSocketByteStream.connect(path: socket)
            streams.append(stream)
            return stream
        }
        // Since a minute ago: the engine sends a head at once, then old and new events.
        let since = Int(Date().timeIntervalSince1970) - 60
        let trigger = Task { try await pool.send(HTTPRequest(method: "POST", path: "/v1.41/networks/create", json: .object(["Name": .string("berth-http-test-\(UInt32.random(in: 0...UInt32.max))"), "Internal": true]))) }
        var status = 0
        var sawBody = false
        // The stream is made in the loop: ending the iteration early releases it, which cancels it.
        for try await part in pool.stream(HTTPRequest(method: "GET", path: "/events?since=\(since)")) {
            switch part {
            case .head(let code, let headers):
                status = code
                #expect(headers["content-type"] == "application/json")
            case .body(let bytes):
                sawBody = !bytes.isEmpty
            }
            if sawBody { break }
        }
        #expect(status == 200 && sawBody)
        let created = try await trigger.value
        #expect(created.status == 201)
        if let id = try created.json()["Id"]?.stringValue {
            _ = try await pool.send(HTTPRequest(method: "DELETE", path: "/v1.41/networks/\(id)", timeout: 10))
        }
        // The cancelled stream closed its connection and gave its slot back.
        try await Task.sleep(for: .milliseconds(200))
        #expect(streams.all.contains { $0.isClosed }, "the events connection was not closed")
        #expect(pool.openConnections == pool.idleConnections)
        await pool.close()
    }

    @Test func poolConcurrency() async throws {
        let socket = try dockerSocket()
        let opened = Counter()
        let pool = HTTP1ConnectionPool(endpointDescription: "test engine", maxConnections: 3) { () async throws(PluginError) -> any ByteStream in
            opened.increment()
            return try UnixSocketByteStream.connect(path: socket)
        }
        try await withThrowingTaskGroup(of: HTTPResponse.self) { group in
            // The timeout covers the wait for one of the 3 connections; it only guards a hang.
            for _ in 0..<20 { group.addTask { try await pool.send(HTTPRequest(method: "GET", path: "/_ping", timeout: 60)) } }
            for try await response in group { #expect(response.status == 200 && response.text == "OK") }
        }
        #expect(opened.value >= 1 && opened.value <= 3, "opened \(opened.value) connections")
        #expect(pool.openConnections <= 3)
        await pool.close()
    }
}

/// The byte streams a factory made, for checking that they were closed.
final class StreamLog: Sendable {
    private let streams = Mutex<[UnixSocketByteStream]>([])
    func append(_ stream: UnixSocketByteStream) { streams.withLock { $0.append(stream) } }
    var all: [UnixSocketByteStream] { streams.withLock { $0 } }
}
