import BerthPluginKit
import BerthTestSupport
import Foundation
import SSHTransport
import Testing

/// SSH sessions against the real sshd of the test services (`scripts/test-services.sh up`).
@Suite("SSH sessions against a real sshd", .serialized, .sshd)
struct SSHSessionTests {
    static func endpoint(key variable: String = "BERTH_TEST_SSH_KEY_ED25519", knownHosts: String = "BERTH_TEST_SSH_KNOWN_HOSTS", passphrase: String? = nil) throws -> SSHEndpoint {
        SSHEndpoint(
            address: try TestEnvironment.require("BERTH_TEST_SSH_HOST"),
            port: Int(try TestEnvironment.require("BERTH_TEST_SSH_PORT")) ?? 2222,
            user: try TestEnvironment.require("BERTH_TEST_SSH_USER"),
            identityFile: try TestEnvironment.require(variable),
            passphrase: passphrase,
            knownHostsFile: try TestEnvironment.require(knownHosts),
            connectTimeout: 5)
    }

    /// Sends one HTTP/1.0 request through `docker system dial-stdio` and returns the response.
    static func ping(_ session: SSHSession) async throws -> String {
        let channel = try await session.exec("docker system dial-stdio")
        defer { channel.close() }
        try await channel.write(Array("GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n".utf8))
        var response: [UInt8] = []
        while let bytes = try await channel.read() { response += bytes }
        return String(decoding: response, as: UTF8.self)
    }

    @Test("an ed25519 key logs in and dial-stdio reaches the remote engine")
    func dialStdio() async throws {
        let session = try await SSHSession.connect(try Self.endpoint())
        defer { session.close() }
        let response = try await Self.ping(session)
        #expect(response.hasPrefix("HTTP/1.0 200 OK"), "\(response)")
        #expect(response.hasSuffix("OK"))
    }

    @Test("an ecdsa key logs in")
    func ecdsaKey() async throws {
        let ecdsa = try await SSHSession.connect(try Self.endpoint(key: "BERTH_TEST_SSH_KEY_ECDSA"))
        #expect(try await Self.ping(ecdsa).hasSuffix("OK"))
        ecdsa.close()
    }

    @Test("a passphrase-protected rsa key is refused by a stock sshd, with the reason and the fix")
    func rsaKey() async throws {
        // Debian 12's libssh2 1.10 signs RSA keys with SHA-1 (ssh-rsa), which OpenSSH 9.2 refuses
        // by default; the user must be told why, not just "refused".
        let endpoint = try Self.endpoint(
            key: "BERTH_TEST_SSH_KEY_RSA", passphrase: try TestEnvironment.require("BERTH_TEST_SSH_KEY_RSA_PASSPHRASE"))
        let error = await #expect(throws: PluginError.self) { _ = try await SSHSession.connect(endpoint) }
        #expect(error?.code == .permissionDenied)
        #expect(error?.message.contains("use an ed25519 or ecdsa key") == true)
        #expect(error?.message.contains(try TestEnvironment.require("BERTH_TEST_SSH_KEY_RSA_PASSPHRASE")) == false)
    }

    @Test("nine channels run at once on one session, under sshd's default MaxSessions")
    func concurrentChannels() async throws {
        let session = try await SSHSession.connect(try Self.endpoint())
        defer { session.close() }
        let responses = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<9 { group.addTask { try await Self.ping(session) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(responses.count == 9)
        #expect(responses.allSatisfy { $0.hasSuffix("OK") })
    }

    @Test("a key the server does not accept is permission_denied naming the user and key file")
    func rejectedKey() async throws {
        let endpoint = try Self.endpoint(key: "BERTH_TEST_SSH_KEY_UNAUTHORIZED")
        let error = await #expect(throws: PluginError.self) { _ = try await SSHSession.connect(endpoint) }
        #expect(error?.code == .permissionDenied)
        #expect(error?.message.contains("user \(endpoint.user)") == true)
        #expect(error?.message.contains(endpoint.identityFile!) == true)
    }

    @Test("an unknown host key is refused with its SHA-256 fingerprint")
    func unknownHostKey() async throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("berth-empty-known-hosts-\(TestEnvironment.uniqueID())").path
        _ = FileManager.default.createFile(atPath: empty, contents: Data())
        defer { try? FileManager.default.removeItem(atPath: empty) }
        var endpoint = try Self.endpoint()
        endpoint.knownHostsFile = empty
        let error = await #expect(throws: PluginError.self) { _ = try await SSHSession.connect(endpoint) }
        #expect(error?.code == .permissionDenied)
        #expect(error?.message.contains("unknown host key SHA256:") == true)
        #expect(error?.message.contains(endpoint.hostPort) == true)
    }

    @Test("a changed host key is refused")
    func changedHostKey() async throws {
        let endpoint = try Self.endpoint(knownHosts: "BERTH_TEST_SSH_KNOWN_HOSTS_WRONG")
        let error = await #expect(throws: PluginError.self) { _ = try await SSHSession.connect(endpoint) }
        #expect(error?.code == .permissionDenied)
        #expect(error?.message.contains("host key CHANGED") == true)
        #expect(error?.message.contains("SHA256:") == true)
    }

    @Test("a refused connection is unavailable naming address and port")
    func connectionRefused() async throws {
        var endpoint = try Self.endpoint()
        endpoint.port = 1  // nothing listens there
        let error = await #expect(throws: PluginError.self) { _ = try await SSHSession.connect(endpoint) }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("\(endpoint.address):1") == true)
    }

    @Test("a remote command that does not exist is reported by name")
    func missingCommand() async throws {
        let session = try await SSHSession.connect(try Self.endpoint())
        defer { session.close() }
        let channel = try await session.exec("no-such-berth-command --stdio")
        let error = await #expect(throws: PluginError.self) {
            while try await channel.read() != nil {}
        }
        #expect(error?.message.contains("no-such-berth-command") == true)
        // The session still works.
        #expect(try await Self.ping(session).hasSuffix("OK"))
    }
}
