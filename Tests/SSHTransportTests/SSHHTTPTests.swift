import BerthHTTP
import BerthPluginKit
import BerthTestSupport
import SSHTransport
import Testing

/// The remote engine's HTTP API through SSH channels running `docker system dial-stdio`,
/// with the keep-alive pool that the SSH plugin will use.
@Suite("HTTP over SSH channels", .serialized, .sshd)
struct SSHHTTPTests {
    @Test("the pool reuses one channel for sequential calls and stays within its budget")
    func poolOverChannels() async throws {
        let session = try await SSHSession.connect(try SSHSessionTests.endpoint())
        defer { session.close() }
        let pool = HTTP1ConnectionPool(endpointDescription: "ssh://\(session.endpoint.hostPort)", maxConnections: 4) {
            () async throws(PluginError) -> any ByteStream in
            try await session.exec("docker system dial-stdio")
        }
        let ping = try await pool.send(HTTPRequest(method: "GET", path: "/_ping", timeout: 10))
        #expect(ping.status == 200)
        #expect(ping.text == "OK")
        let version = try await pool.send(HTTPRequest(method: "GET", path: "/version", timeout: 10))
        #expect(try version.json()["ApiVersion"]?.stringValue?.isEmpty == false)
        #expect(pool.openConnections == 1)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 {
                group.addTask { try await pool.send(HTTPRequest(method: "GET", path: "/_ping", timeout: 20)).status }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 200, count: 20))
        #expect(pool.openConnections <= 4)
        await pool.close()
    }
}
