import BerthCore
import BerthPluginKit
import BerthPostgres
@testable import BerthServer
import BerthTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// API tokens, roles and ownership, on the real application and PostgreSQL.
@Suite("API tokens, roles and ownership", .postgresServer)
struct AuthTests {
    /// Every route that needs a token, with a path that exists.
    private func protectedRoutes(_ id: String, token: String) -> [(HTTPRequest.Method, String)] {
        APIRoute.all.filter { !$0.roles.isEmpty }.map { route in
            let target = route.path.hasPrefix("/v1/tokens") ? token : id
            return (route.method, route.path.replacingOccurrences(of: "{id}", with: target))
        }
    }

    @Test("every route but /healthz and /readyz answers 401 without a token, with WWW-Authenticate")
    func tokenRequired() async throws {
        try await ServerHarness.run { h in
            let id = try h.id(of: try await h.submit(["image": "x"])).uuidString.lowercased()
            let other = try await Harness.makeToken(h.store, .viewer, owner: "v").id.uuidString.lowercased()
            for (method, path) in protectedRoutes(id, token: other) {
                let response = try await h.request(method, path, as: .anonymous)
                try h.expectProblem(response, status: .unauthorized, code: "unauthenticated")
                #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="berth""#, "\(method) \(path)")
            }
            #expect(try await h.request(.get, "/healthz", as: .anonymous).status == .ok)
            #expect(try await h.request(.get, "/readyz", as: .anonymous).status == .ok)
            #expect(APIRoute.all.filter(\.roles.isEmpty).map(\.path).sorted() == ["/healthz", "/readyz"])
        }
    }

    @Test("malformed, unknown, wrong-secret, revoked and expired tokens are refused with 401 saying why")
    func badTokens() async throws {
        try await ServerHarness.run { h in
            let good = try await h.makeToken(.viewer, owner: "v")
            #expect(try await h.request(.get, "/v1/executions", as: .token(good)).status == .ok)
            let parsed = try #require(TokenSecret(parsing: good))
            let wrongSecret = "berth_" + parsed.id.uuidString.lowercased().replacingOccurrences(of: "-", with: "") + "_" + String(repeating: "A", count: 43)
            let unknown = TokenSecret(newFor: UUID()).text
            let cases: [(HTTPFields, String)] = [
                ([.authorization: "Basic dXNlcjpwYXNz"], "must be 'Bearer <token>'"),
                ([.authorization: "Bearer"], "must be 'Bearer <token>'"),
                ([.authorization: "Bearer nope"], "malformed"),
                ([.authorization: "Bearer \(good)x"], "malformed"),
                ([.authorization: "Bearer \(good.dropLast())"], "malformed"),
                ([.authorization: "Bearer \(wrongSecret)"], "not valid"),
                ([.authorization: "Bearer \(unknown)"], "not valid"),
            ]
            for (headers, reason) in cases {
                let response = try await h.request(.get, "/v1/executions", headers: headers, as: .anonymous)
                try h.expectProblem(response, status: .unauthorized, code: "unauthenticated")
                #expect(try response.json()["detail"]?.stringValue?.contains(reason) == true, "\(headers): \(response.text)")
            }
            let expired = try await h.makeToken(.admin, owner: "x", expiresAt: Date().addingTimeInterval(-1))
            let expiredAnswer = try await h.request(.get, "/v1/executions", as: .token(expired))
            try h.expectProblem(expiredAnswer, status: .unauthorized, code: "unauthenticated")
            #expect(try expiredAnswer.json()["detail"] == "the token expired")
        }
    }

    @Test("a viewer reads everything and changes nothing; a submitter may not manage tokens")
    func roles() async throws {
        try await ServerHarness.run { h in
            let viewer = try await h.makeToken(.viewer, owner: "v")
            let submitter = try await h.makeToken(.submitter, owner: "alice")
            let id = try h.id(of: try await h.submit(["image": "x"])).uuidString.lowercased()
            for path in ["/v1/executions", "/v1/executions/\(id)", "/v1/executions/\(id)/events", "/v1/executions/\(id)/logs", "/v1/hosts", "/v1/plugins", "/openapi.json"] {
                #expect(try await h.request(.get, path, as: .token(viewer)).status == .ok, "\(path)")
            }
            let submit = try await h.request(.post, "/v1/executions", json: ["image": "x"], as: .token(viewer))
            try h.expectProblem(submit, status: .forbidden, code: "forbidden")
            #expect(try submit.json()["detail"] == "a viewer token may not submit an execution")
            try h.expectProblem(try await h.request(.post, "/v1/executions/\(id)/cancel", as: .token(viewer)), status: .forbidden, code: "forbidden")
            for caller in [viewer, submitter] {
                try h.expectProblem(try await h.request(.get, "/v1/tokens", as: .token(caller)), status: .forbidden, code: "forbidden")
                try h.expectProblem(
                    try await h.request(.post, "/v1/tokens", json: ["name": "n", "role": "admin"], as: .token(caller)),
                    status: .forbidden, code: "forbidden")
            }
            #expect(try await h.store.execution(id: UUID(uuidString: id)!)?.state == .queued)
        }
    }

    @Test("a submitter sees and acts on its own executions only: another owner's id is 404 on every route")
    func ownership() async throws {
        try await ServerHarness.run { h in
            let alice = try await h.makeToken(.submitter, owner: "alice")
            let bob = try await h.makeToken(.submitter, owner: "bob")
            let viewer = try await h.makeToken(.viewer, owner: "v")
            let mine = try await h.submit(["image": "x", "name": "alice-1"], as: .token(alice))
            #expect(mine["owner"] == "alice")
            let theirs = try h.id(of: try await h.submit(["image": "x", "name": "bob-1"], as: .token(bob))).uuidString.lowercased()
            // Bob's execution has reports, so a 404 can only mean alice may not see it.
            for kind in ExecutionReport.Kind.allCases {
                try await h.store.recordReport(ExecutionReport(
                    executionID: UUID(uuidString: theirs)!, kind: kind, attempt: 1, source: .stdout, body: ["done": true], at: Date()))
            }
            // Every per-execution route of the route table, and a follow.
            let perExecution = APIRoute.all.filter { $0.hasIDParameter && $0.tag == "executions" }
                .map { ($0.method, $0.path.replacingOccurrences(of: "{id}", with: theirs)) }
                + [(HTTPRequest.Method.get, "/v1/executions/\(theirs)/logs?follow=true")]
            #expect(perExecution.count == 8)
            for (method, path) in perExecution {
                try h.expectProblem(try await h.request(method, path, as: .token(alice)), status: .notFound, code: "execution_not_found")
            }
            #expect(try await h.store.execution(id: UUID(uuidString: theirs)!)?.state == .queued, "alice's cancel must not reach bob's execution")
            let names: (Harness.Caller) async throws -> [String] = { caller in
                try await h.request(.get, "/v1/executions", as: caller).json()["items"]?.arrayValue?.compactMap { $0["name"]?.stringValue }.sorted() ?? []
            }
            #expect(try await names(.token(alice)) == ["alice-1"])
            #expect(try await names(.token(bob)) == ["bob-1"])
            #expect(try await names(.token(viewer)) == ["alice-1", "bob-1"])
            #expect(try await names(.admin) == ["alice-1", "bob-1"])
            // Its own: every route works, cancel included.
            let own = try h.id(of: mine).uuidString.lowercased()
            #expect(try await h.request(.post, "/v1/executions/\(own)/cancel", as: .token(alice)).json()["state"] == "cancelled")
            // The same Idempotency-Key of two owners makes two executions.
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "same"]
            let a = try await h.request(.post, "/v1/executions", json: ["image": "x"], headers: key, as: .token(alice)).json()
            let b = try await h.request(.post, "/v1/executions", json: ["image": "x"], headers: key, as: .token(bob)).json()
            #expect(a["id"] != b["id"])
        }
    }

    @Test("an admin creates a token (secret shown once), lists tokens without secrets, and a revocation takes effect at once")
    func tokenLifecycle() async throws {
        try await ServerHarness.run { h in
            let created = try await h.request(.post, "/v1/tokens", json: ["name": "ci", "role": "submitter", "owner": "pipeline"])
            #expect(created.status == .created, "\(created.text)")
            let body = try created.json()
            let secret = try #require(body["token"]?.stringValue)
            let id = try #require(body["id"]?.stringValue)
            #expect(body["role"] == "submitter" && body["owner"] == "pipeline" && body["revoked_at"] == .null)
            #expect(TokenSecret(parsing: secret)?.id.uuidString.lowercased() == id)
            let submitted = try await h.submit(["image": "x"], as: .token(secret))
            #expect(submitted["owner"] == "pipeline")

            let listed = try await h.request(.get, "/v1/tokens")
            #expect(listed.status == .ok)
            #expect(!listed.text.contains(secret))
            #expect(!listed.text.contains(TokenSecret(parsing: secret)!.hash))
            let items = try #require(try listed.json()["items"]?.arrayValue)
            #expect(items.contains { $0["id"]?.stringValue == id && $0["token"] == nil && $0["last_used_at"] != .null })

            let revoked = try await h.request(.post, "/v1/tokens/\(id)/revoke")
            #expect(try revoked.json()["revoked_at"] != .null)
            let refused = try await h.request(.get, "/v1/executions", as: .token(secret))
            try h.expectProblem(refused, status: .unauthorized, code: "unauthenticated")
            #expect(try refused.json()["detail"] == "the token was revoked")
            try h.expectProblem(try await h.request(.post, "/v1/tokens/\(UUID().uuidString)/revoke"), status: .notFound, code: "token_not_found")

            for (json, field, code) in [
                (["role": "admin"] as JSONValue, "name", "missing_field"),
                (["name": "n"], "role", "missing_field"),
                (["name": "n", "role": "root"], "role", "invalid_field"),
                (["name": "", "role": "admin"], "name", "invalid_field"),
                (["name": "a\u{7}b", "role": "admin"], "name", "invalid_field"),
                (["name": "n", "role": "admin", "expires_in_seconds": 0], "expires_in_seconds", "out_of_range"),
                (["name": "n", "role": "admin", "scopes": []], "scopes", "unknown_field"),
            ] {
                try h.expectProblem(try await h.request(.post, "/v1/tokens", json: json), status: .unprocessableContent, code: code, field: field)
            }
        }
    }

    @Test("a token revoked by another server is refused here through the Store's notification, before the cache's lifetime")
    func revocationElsewhere() async throws {
        try await ServerHarness.run { h in
            let created = try await h.request(.post, "/v1/tokens", json: ["name": "ci", "role": "viewer"]).json()
            let secret = try #require(created["token"]?.stringValue)
            let id = try #require(created["id"]?.stringValue.flatMap(UUID.init(uuidString:)))
            // Used once, so this server caches its record.
            #expect(try await h.request(.get, "/v1/executions", as: .token(secret)).status == .ok)
            // Revoked in the database as another server of the deployment would: this server's
            // API never sees the revocation, only the berth_tokens notification.
            let revokedAt = ContinuousClock.now
            _ = try await h.store.revokeToken(id: id)
            var status = HTTPResponse.Status.ok
            while status == .ok, ContinuousClock.now - revokedAt < NotifiedCache<TokenCredential>.tokenLifetime {
                status = try await h.request(.get, "/v1/executions", as: .token(secret)).status
                if status == .ok { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(status == .unauthorized, "still accepted after \(ContinuousClock.now - revokedAt)")
        }
    }

    @Test("a token string holds the id and 256 random bits; only the secret's SHA-256 is kept and compared")
    func tokenSecrets() {
        let id = UUID()
        let one = TokenSecret(newFor: id)
        let two = TokenSecret(newFor: id)
        #expect(one.text != two.text)
        #expect(one.text.count == "berth_".count + 32 + 1 + 43)
        #expect(TokenSecret(parsing: one.text) == one)
        #expect(one.hash.count == 64 && one.hash != two.hash)
        #expect(one.matches(storedHash: one.hash))
        #expect(!one.matches(storedHash: two.hash))
        #expect(!one.matches(storedHash: ""))
        for bad in ["", "berth_", "berth_x_y", one.text.uppercased(), one.text + "=", String(one.text.dropFirst())] {
            #expect(TokenSecret(parsing: bad) == nil, "\(bad)")
        }
    }
}

/// Per-host policy on submissions.
@Suite("Host policy", .postgresServer)
struct HostPolicyTests {
    static let policy = HostPolicy(images: ["berth-test/*", "registry.local/team/solver:?"], maxCPUs: 2, maxMemoryMB: 512, maxTimeoutSeconds: 600)

    @Test("a submission breaking a rule of its host's policy is 403 naming the rule, the host and the field; one within it is accepted")
    func violations() async throws {
        let configuration = ServerConfiguration(defaultHost: "sim", policies: ["sim": Self.policy])
        try await ServerHarness.run(configuration: configuration) { h in
            let ok: JSONValue = ["image": "berth-test/busybox:1", "cpus": 2, "memory_mb": 512, "timeout_seconds": 600]
            _ = try await h.submit(ok)
            _ = try await h.submit(["image": "registry.local/team/solver:3", "cpus": 0.5, "memory_mb": 1, "timeout_seconds": 1])
            func with(_ key: String, _ value: JSONValue?) -> JSONValue {
                var object = ok.objectValue!
                object[key] = value
                return .object(object)
            }
            let cases: [(JSONValue, String, String)] = [
                (with("image", "evil/miner:1"), "images", "image"),
                (with("image", "registry.local/team/solver:10"), "images", "image"),
                (with("image", "xberth-test/busybox:1"), "images", "image"),
                (with("cpus", 2.5), "max_cpus", "cpus"),
                (with("cpus", nil), "max_cpus", "cpus"),
                (with("memory_mb", 513), "max_memory_mb", "memory_mb"),
                (with("memory_mb", nil), "max_memory_mb", "memory_mb"),
                (with("timeout_seconds", 601), "max_timeout_seconds", "timeout_seconds"),
                (with("timeout_seconds", nil), "max_timeout_seconds", "timeout_seconds"),
            ]
            for (body, rule, field) in cases {
                let response = try await h.request(.post, "/v1/executions", json: body)
                try h.expectProblem(response, status: .forbidden, code: "policy_violation", field: field)
                let problem = try response.json()
                #expect(problem["rule"]?.stringValue == rule)
                #expect(problem["host"] == "sim")
                #expect(problem["detail"]?.stringValue?.hasPrefix("host sim, rule \(rule): ") == true, "\(response.text)")
            }
            #expect(try await h.store.listExecutions(ExecutionQuery(limit: 100)).executions.count == 2)
        }
    }

    @Test func globPatterns() {
        #expect(HostPolicy.glob("berth/*", matches: "berth/busybox:1"))
        #expect(HostPolicy.glob("*", matches: ""))
        #expect(HostPolicy.glob("a*b*c", matches: "aXXbYYc"))
        #expect(!HostPolicy.glob("a*b*c", matches: "aXXbYY"))
        #expect(HostPolicy.glob("solver:?", matches: "solver:3"))
        #expect(!HostPolicy.glob("solver:?", matches: "solver:"))
        #expect(!HostPolicy.glob("berth/*", matches: "evil/berth/x"))
        #expect(HostPolicy().violation(by: NewExecution(owner: "o", image: "anything")) == nil)
    }
}

/// Secret environment values over the API.
@Suite("Secret environment over the API", .postgresServer)
struct SecretEnvRouteTests {
    @Test("secret_env values are accepted, never returned, stored sealed; names are shown; bad names are 422; a secret wins over env")
    func secretsNeverReturned() async throws {
        try await ServerHarness.run { h in
            let secret = "hunter2-secret-value"
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "with-secret"]
            let created = try await h.request(.post, "/v1/executions", json: ["image": "x", "env": ["PLAIN": "p"], "secret_env": ["API_KEY": .string(secret)]], headers: key)
            #expect(created.status == .created)
            #expect(!created.text.contains(secret))
            let body = try created.json()
            #expect(body["secret_env"] == ["API_KEY"])
            #expect(body["env"] == ["PLAIN": "p"])
            let id = try h.id(of: body)
            for path in ["/v1/executions/\(id.uuidString)", "/v1/executions", "/v1/executions/\(id.uuidString)/events"] {
                let answer = try await h.request(.get, path)
                #expect(!answer.text.contains(secret), "\(path)")
            }
            let stored = try #require(try await h.store.execution(id: id))
            #expect(stored.sealedSecretEnv.map { !String(decoding: $0, as: UTF8.self).contains(secret) } == true)
            // The same submission replays; a different secret under the same key is a conflict.
            let replay = try await h.request(.post, "/v1/executions", json: ["image": "x", "env": ["PLAIN": "p"], "secret_env": ["API_KEY": .string(secret)]], headers: key)
            #expect(replay.status == .created && replay.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            let other = try await h.request(.post, "/v1/executions", json: ["image": "x", "env": ["PLAIN": "p"], "secret_env": ["API_KEY": "other"]], headers: key)
            try h.expectProblem(other, status: .conflict, code: "idempotency_key_reused")
            for (json, field, code) in [
                (["image": "x", "secret_env": ["1BAD": "v"]] as JSONValue, "secret_env.1BAD", "invalid_env_name"),
                (["image": "x", "secret_env": ["A": 1]], "secret_env.A", "invalid_field"),
            ] {
                try h.expectProblem(try await h.request(.post, "/v1/executions", json: json), status: .unprocessableContent, code: code, field: field)
            }
            // A name in both env and secret_env is secret: the container gets the secret value,
            // and the plain one is not kept.
            let both = try await h.submit(["image": "x", "env": ["A": "plain", "B": "b"], "secret_env": ["A": "sealed"]])
            #expect(both["env"] == ["B": "b"])
            #expect(both["secret_env"] == ["A"])
        }
    }
}
