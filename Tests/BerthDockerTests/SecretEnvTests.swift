import BerthCore
import BerthPluginKit
@testable import BerthPostgres
import BerthSecrets
import BerthTestSupport
import Foundation
import Testing

/// Secret environment values: sealed in the database, opened only into the container.
@Suite("Secret environment on Docker and PostgreSQL", .postgresServer)
struct SecretEnvTests {
    static let secret = "s3cret-value-0001"

    static func randomSealer() throws -> AESGCMSealer {
        try AESGCMSealer(keyBytes: (0..<32).map { _ in UInt8.random(in: 0...255) })
    }

    private func submit(_ runtime: RuntimeFixture, sealer: AESGCMSealer, script: String) async throws -> UUID {
        try await runtime.store.createExecution(NewExecution(
            owner: "tester", image: TestEnvironment.localImage, args: ["sh", "-c", script], targetHost: "local",
            sealedSecretEnv: try sealer.seal(environment: ["API_KEY": Self.secret]), secretEnvNames: ["API_KEY"])).id
    }

    @Test("the container gets the secret; the database holds only the sealed bytes and the name")
    func delivered() async throws {
        let sealer = try Self.randomSealer()
        try await RuntimeFixture.with(hosts: [try RuntimeFixture.localHost()], scheduling: true, sealer: sealer) { runtime in
            // The script checks the value in two halves, so the secret itself is nowhere in the spec.
            let id = try await submit(runtime, sealer: sealer, script: #"test "${API_KEY%-value-0001}" = s3cret && test "${API_KEY#s3cret-}" = value-0001 && echo delivered"#)
            let ended = try await runtime.waitUntilTerminal(id)
            #expect(ended.state == .succeeded, "\(ended.stateReason ?? "")")
            #expect(try await runtime.output(id) == "delivered\n")
            #expect(ended.secretEnvNames == ["API_KEY"])
            // The row holds no plaintext: not in the sealed column, not anywhere in the row's text.
            let row = try await runtime.store.pool.withConnection { connection in
                try await connection.query("SELECT executions::text AS whole, secret_env FROM executions WHERE id = $1", [PostgresBind(id)])
            }
            let whole = try #require(try row.first?.string("whole"))
            let sealed = try #require(try row.first?.bytes("secret_env"))
            #expect(!whole.contains(Self.secret))
            #expect(!String(decoding: sealed, as: UTF8.self).contains(Self.secret))
            #expect(try sealer.openEnvironment(sealed) == ["API_KEY": Self.secret])
        }
    }

    @Test("an execution sealed with another key fails with secret_unavailable and never starts")
    func wrongKey() async throws {
        let theirs = try Self.randomSealer()
        try await RuntimeFixture.with(hosts: [try RuntimeFixture.localHost()], scheduling: true, sealer: try Self.randomSealer()) { runtime in
            let id = try await submit(runtime, sealer: theirs, script: "echo never")
            let ended = try await runtime.waitUntilTerminal(id)
            #expect(ended.state == .failed)
            #expect(ended.error?.code == "secret_unavailable")
            #expect(ended.error?.message.contains(Self.secret) == false)
            #expect(try await runtime.output(id) == "")
        }
    }

    @Test("a key file is made 0600 when missing, read back as the same key, and a bad one is refused naming the file")
    func keyFiles() throws {
        let folder = try FileManager.default.url(
            for: .itemReplacementDirectory, in: .userDomainMask, appropriateFor: URL(fileURLWithPath: "/tmp"), create: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("keys/secrets.key").path
        let made = try AESGCMSealer.load(file: path)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let again = try AESGCMSealer.load(file: path)
        #expect(again.keyID == made.keyID)
        #expect(try again.openEnvironment(try made.seal(environment: ["A": "b"])) == ["A": "b"])
        let bad = folder.appendingPathComponent("bad.key").path
        try "not a key".write(toFile: bad, atomically: true, encoding: .utf8)
        #expect(throws: SecretError.self) { _ = try AESGCMSealer.load(file: bad) }
        do {
            _ = try AESGCMSealer.load(file: bad)
        } catch {
            #expect(error.description.contains(bad))
        }
    }
}
