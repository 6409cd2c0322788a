@testable import BerthServer
import BerthPluginKit
import Foundation
import Testing

@Suite struct ServerUnitTests {
    @Test func sha1MatchesKnownVectors() {
        func hex(_ text: String) -> String { SHA1.hash(Array(text.utf8)).map { String(format: "%02x", $0) }.joined() }
        #expect(hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") == "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        #expect(hex(String(repeating: "a", count: 1000)) == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }

    @Test func idempotencyIDsAreVersion5UUIDs() {
        // RFC 9562's example namespace (DNS) and Python's uuid5(NAMESPACE_DNS, "python.org").
        let dns = UUID(uuidString: "6ba7b810-9dad-11d1-80b4-00c04fd430c8")!
        #expect(IdempotencyKey.uuidV5(namespace: dns, name: Array("python.org".utf8)).uuidString.lowercased()
            == "886313e1-3b8a-5372-9b90-0c9aee199e5d")
        let a = IdempotencyKey.executionID(key: "k", owner: "anonymous")
        #expect(a == IdempotencyKey.executionID(key: "k", owner: "anonymous"))
        #expect(a != IdempotencyKey.executionID(key: "k", owner: "someone"))
        #expect(a != IdempotencyKey.executionID(key: "k2", owner: "anonymous"))
    }

    @Test func environmentNames() {
        for name in ["A", "_", "a_1", "PATH", "_X9"] { #expect(Submission.isEnvironmentName(name), "\(name)") }
        for name in ["", "1A", "A-B", "A B", "É", "a.b"] { #expect(!Submission.isEnvironmentName(name), "\(name)") }
    }

    @Test func timesAreRFC3339AtMicroseconds() {
        let date = Date(timeIntervalSince1970: 1_800_000_000.123456)
        #expect(Wire.time(date) == "2027-01-15T08:00:00.123456Z")
        #expect(Wire.time(Date(timeIntervalSince1970: 1_800_000_000)) == "2027-01-15T08:00:00Z")
    }

    @Test func problemDocumentHasTheRFC9457Members() {
        let problem = Problem.invalid("env.1BAD", "bad name", code: "invalid_env_name")
        let json = problem.json
        #expect(json["type"] == "urn:berth:problem:invalid_env_name")
        #expect(json["status"] == 422)
        #expect(json["field"] == "env.1BAD")
        #expect(json["code"] == "invalid_env_name")
        #expect(json["title"]?.stringValue != nil)
        #expect(json["detail"]?.stringValue?.contains("bad name") == true)
    }
}
