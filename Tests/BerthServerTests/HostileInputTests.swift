import BerthCore
import BerthPluginKit
import BerthPostgres
@testable import BerthServer
import BerthTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Input an attacker or a broken client sends, through the real HTTP server: every answer is a
/// 4xx problem naming what is wrong, the server keeps serving, and nothing is stored.
@Suite("Hostile input at the HTTP level", .postgresServer)
struct HostileInputTests {
    /// Runs `body` on a live server (real sockets, Hummingbird's HTTP parser), then checks the
    /// server still answers and that no execution was created unless `allowExecutions`.
    private func live(allowExecutions: Bool = false, _ body: @Sendable @escaping (Harness) async throws -> Void) async throws {
        try await ServerHarness.run(configuration: ServerConfiguration(port: 0), setup: .live) { h in
            try await body(h)
            let health = try await h.request(.get, "/healthz", as: .anonymous)
            #expect(health.status == .ok, "the server must still answer after hostile input")
            if !allowExecutions {
                #expect(try await h.store.listExecutions(ExecutionQuery(limit: 10)).executions.isEmpty, "nothing may be stored")
            }
        }
    }

    /// Posts raw `bytes` as a JSON body.
    private func post(_ h: Harness, _ bytes: [UInt8], to path: String = "/v1/executions") async throws -> TestResponse {
        try await h.client.execute(
            uri: path, method: .post,
            headers: [.authorization: "Bearer \(h.adminToken)", .contentType: "application/json"],
            body: ByteBuffer(bytes: bytes))
    }

    @Test("every truncation of a valid submission is 400 malformed_json")
    func truncatedJSON() async throws {
        try await live(allowExecutions: true) { h in
            let valid = Array(#"{"image":"x","args":["a","b\u00e9"],"labels":{"team":"ml"},"env":{"A":"1"},"priority":3,"cpus":0.5}"#.utf8)
            for length in 0..<valid.count {
                let response = try await post(h, Array(valid.prefix(length)))
                try h.expectProblem(response, status: .badRequest, code: "malformed_json")
            }
            #expect(try await h.store.listExecutions(ExecutionQuery(limit: 10)).executions.isEmpty)
            let whole = try await post(h, valid)
            #expect(whole.status == .created, "\(whole.text)")
        }
    }

    @Test("malformed JSON is 400, naming the field the fault is in")
    func malformedJSON() async throws {
        let cases: [(body: String, field: String?)] = [
            (#"{"image": "x",,}"#, nil),
            (#"{"image": 'x'}"#, "image"),
            (#"{image: "x"}"#, nil),
            (#"{"image": "x"} trailing"#, nil),
            (#"{"image": "x"}{"image": "y"}"#, nil),
            (#"NaN"#, nil),
            (#"{"image": "x", "cpus": NaN}"#, "cpus"),
            (#"{"image": "x", "cpus": Infinity}"#, "cpus"),
            (#"{"image": "x", "priority": 01}"#, nil),
            (#"{"image": "x", "priority": -}"#, "priority"),
            (#"{"image": "\x"}"#, "image"),
            (#"{"image": "x", "labels": {"team": "\ud800"}}"#, "labels.team"),
            (#"{"image": "x", "args": ["a", tru]}"#, "args[1]"),
            (#"{"image": "x", "args": ["a", "b"}"#, "args"),
            ("{\"image\": \"x\ty\"}", "image"),  // a raw tab inside a string
            ("\u{FEFF}{\"image\": \"x\"}", nil),  // a byte order mark
        ]
        try await live { h in
            for (body, field) in cases {
                let response = try await post(h, Array(body.utf8))
                try h.expectProblem(response, status: .badRequest, code: "malformed_json", field: field)
                if field == nil {
                    #expect(try response.json()["field"] == nil, "\(body): \(response.text)")
                }
            }
        }
    }

    @Test("deep nesting, a huge chunked body and a lying Content-Length are refused without harm")
    func hugeAndDeep() async throws {
        try await live { h in
            // Deeper than the parser's limit, well inside the body limit: 400, not a stack overflow.
            let deep = Array(#"{"image":"x","args":"#.utf8) + [UInt8](repeating: UInt8(ascii: "["), count: 200_000)
            let nested = try await post(h, deep)
            try h.expectProblem(nested, status: .badRequest, code: "malformed_json")
            #expect(try nested.json()["detail"]?.stringValue?.contains("nesting deeper than 512") == true)

            let port = try #require(h.client.port)
            // Chunked, so no Content-Length announces the size: cut at the limit, 413.
            let limit = h.configuration.maxBodyBytes
            var parts = [Array("POST /v1/executions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(h.adminToken)\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)]
            let chunk = [UInt8](repeating: UInt8(ascii: " "), count: 16_384)
            for _ in 0...(limit / chunk.count) {
                parts.append(Array("\(String(chunk.count, radix: 16))\r\n".utf8) + chunk + Array("\r\n".utf8))
            }
            parts.append(Array("0\r\n\r\n".utf8))
            let tooBig = String(decoding: try await RawConnection.sendUntilAnswered(port, parts, timeout: 10), as: UTF8.self)
            #expect(tooBig.hasPrefix("HTTP/1.1 413"), "\(tooBig.prefix(300))")
            #expect(tooBig.contains("body_too_large"))

            // A Content-Length larger than what is sent, then the end of the client's input: a
            // 400 for a request that broke off, not an internal error.
            let adminToken = h.adminToken
            let brokenOff = try await RawConnection.blocking { () throws -> String in
                let fd = try RawConnection.connect(port)
                defer { close(fd) }
                let head = "POST /v1/executions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(adminToken)\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"image\":"
                _ = head.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                shutdown(fd, Int32(SHUT_WR))
                var timeout = timeval(tv_sec: 10, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = recv(fd, &buffer, buffer.count, 0)
                return String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self)
            }
            #expect(brokenOff.hasPrefix("HTTP/1.1 400") && brokenOff.contains("malformed_request"), "\(brokenOff)")
        }
    }

    @Test("invalid UTF-8 anywhere in a body is 400 naming the field")
    func invalidUTF8() async throws {
        let cases: [(bytes: [UInt8], field: String?)] = [
            (Array(#"{"image":"x","labels":{"team":""#.utf8) + [0xC3, 0x28] + Array(#""}}"#.utf8), "labels.team"),
            (Array(#"{"image":"x","labels":{""#.utf8) + [0xFF] + Array(#"":"v"}}"#.utf8), "labels"),
            (Array(#"{"image":"x","name":""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8), "name"),  // overlong '/'
            (Array(#"{"image":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8), "image"),  // an encoded surrogate
            (Array(#"{"image":"x","name":"caf"#.utf8) + [0xE9] + Array(#""}"#.utf8), "name"),  // Latin-1
            (Array(#"{"image":"x","args":["ok",""#.utf8) + [0xF8, 0x88, 0x80, 0x80, 0x80] + Array(#""]}"#.utf8), "args[1]"),
            (Array(#"{"image":"x"}"#.utf8).dropLast() + [0xFF, UInt8(ascii: "}")], nil),
        ]
        try await live { h in
            for (bytes, field) in cases {
                let response = try await post(h, bytes)
                try h.expectProblem(response, status: .badRequest, code: "malformed_json", field: field)
                #expect(try response.json()["detail"]?.stringValue?.isEmpty == false)
            }
            // A label filter splits at the first "=" scalar, even where a combining mark follows
            // it and Swift sees one Character (Schemathesis found this one).
            let combining = try await h.request(.get, "/v1/executions?label=w%3D%F0%9F%8F%BB")
            #expect(combining.status == .ok, "\(combining.text)")
            // Percent-encoded invalid UTF-8 in a query is refused or matches nothing; never 5xx.
            for query in ["label=team%3D%FF", "name=%C0%AF", "host=%ED%A0%80", "after=%FF"] {
                let response = try await h.request(.get, "/v1/executions?\(query)")
                #expect(response.status == .ok || response.status.kind == .clientError, "\(query): \(response.status) \(response.text)")
                if response.status == .ok {
                    #expect(try response.json()["items"]?.arrayValue?.isEmpty == true)
                }
            }
        }
    }

    @Test("a key given twice is 422 duplicate_field naming it, wherever it is")
    func duplicateKeys() async throws {
        let cases: [(body: String, path: String, field: String)] = [
            (#"{"image":"x","image":"y"}"#, "/v1/executions", "image"),
            (#"{"image":"x","imag\u0065":"y"}"#, "/v1/executions", "image"),  // the same key, escaped
            (#"{"image":"x","labels":{"team":"a","team":"b"}}"#, "/v1/executions", "labels.team"),
            (#"{"image":"x","env":{"A":"1","B":"2","A":"3"}}"#, "/v1/executions", "env.A"),
            (#"{"image":"x","secret_env":{"K":"1","K":"1"}}"#, "/v1/executions", "secret_env.K"),
            (#"{"name":"a","role":"viewer","role":"admin"}"#, "/v1/tokens", "role"),
        ]
        try await live { h in
            for (body, path, field) in cases {
                let response = try await post(h, Array(body.utf8), to: path)
                try h.expectProblem(response, status: .unprocessableContent, code: "duplicate_field", field: field)
            }
            let tokens = try await h.request(.get, "/v1/tokens")
            #expect(try tokens.json()["items"]?.arrayValue?.count == 1, "only the admin token exists")
        }
    }

    @Test("names and labels refuse path traversal, separators, control and bidi characters")
    func namesAndLabels() async throws {
        let long = String(repeating: "a", count: 64)
        let cases: [(submission: JSONValue, field: String)] = [
            (["image": "x", "name": "../../etc/passwd"], "name"),
            (["image": "x", "name": "runs/../../../etc"], "name"),
            (["image": "x", "name": #"..\..\windows"#], "name"),
            (["image": "x", "name": "."], "name"),
            (["image": "x", "name": ".."], "name"),
            (["image": "x", "name": ""], "name"),
            (["image": "x", "name": "clear\u{1b}[2J"], "name"),
            (["image": "x", "name": "line\nbreak"], "name"),
            (["image": "x", "name": .string(String(repeating: "n", count: 254))], "name"),
            (["image": "x", "labels": ["../x": "v"]], "labels"),
            (["image": "x", "labels": ["a/../b": "v"]], "labels"),
            (["image": "x", "labels": ["x/": "v"]], "labels"),
            (["image": "x", "labels": ["/x": "v"]], "labels"),
            (["image": "x", "labels": ["Example.com/x": "v"]], "labels"),
            (["image": "x", "labels": ["berth.execution": "00000000-0000-0000-0000-000000000000"]], "labels"),
            (["image": "x", "labels": ["-x": "v"]], "labels"),
            (["image": "x", "labels": [.init(stringLiteral: long): "v"]], "labels"),
            (["image": "x", "labels": ["": "v"]], "labels"),
            (["image": "x", "labels": ["team": "../x"]], "labels.team"),
            (["image": "x", "labels": ["team": "a b"]], "labels.team"),
            (["image": "x", "labels": ["team": "ml\u{202E}lm"]], "labels.team"),  // right-to-left override
            (["image": "x", "labels": ["team": "é"]], "labels.team"),
            (["image": "x", "labels": ["team": .string(long)]], "labels.team"),
        ]
        try await live(allowExecutions: true) { h in
            for (submission, field) in cases {
                let response = try await h.request(.post, "/v1/executions", json: submission)
                try h.expectProblem(response, status: .unprocessableContent, code: field == "name" ? "invalid_field" : "invalid_label", field: field)
            }
            #expect(try await h.store.listExecutions(ExecutionQuery(limit: 10)).executions.isEmpty)

            // What people and backends do use is accepted and comes back unchanged.
            let labels: JSONValue = ["example.com/team": "ml-1", "app.kubernetes.io/name": "Solver_2.1", "tier": ""]
            let created = try await h.submit(["image": "x", "name": "nightly run: solver v2 ✓ (über)", "labels": labels])
            #expect(created["name"]?.stringValue == "nightly run: solver v2 ✓ (über)")
            #expect(created["labels"] == labels)
        }
    }

    @Test("numbers out of range are 422 naming the field")
    func numbersOutOfRange() async throws {
        let cases: [(body: String, field: String, code: String)] = [
            (#"{"image":"x","memory_mb":1e400}"#, "memory_mb", "invalid_field"),
            (#"{"image":"x","memory_mb":9223372036854775808}"#, "memory_mb", "invalid_field"),
            (#"{"image":"x","memory_mb":99999999999999999999999}"#, "memory_mb", "invalid_field"),
            (#"{"image":"x","memory_mb":9007199254740991}"#, "memory_mb", "out_of_range"),
            (#"{"image":"x","priority":1e300}"#, "priority", "invalid_field"),
            (#"{"image":"x","priority":-1001}"#, "priority", "out_of_range"),
            (#"{"image":"x","cpus":1e400}"#, "cpus", "out_of_range"),
            (#"{"image":"x","cpus":-0.0}"#, "cpus", "out_of_range"),
            (#"{"image":"x","cpus":1e-400}"#, "cpus", "out_of_range"),
            (#"{"image":"x","timeout_seconds":2147483648}"#, "timeout_seconds", "out_of_range"),
            (#"{"image":"x","max_attempts":-99999999999999999999}"#, "max_attempts", "invalid_field"),
            (#"{"image":"x","retry_on_exit_codes":[1e20]}"#, "retry_on_exit_codes[0]", "invalid_field"),
            (#"{"image":"x","retry_backoff_seconds":1e400}"#, "retry_backoff_seconds", "out_of_range"),
        ]
        try await live { h in
            for (body, field, code) in cases {
                let response = try await post(h, Array(body.utf8))
                try h.expectProblem(response, status: .unprocessableContent, code: code, field: field)
            }
            let queries: [(query: String, field: String)] = [
                ("limit=99999999999999999999", "limit"), ("limit=-1", "limit"), ("limit=1e2", "limit"),
                ("limit=0", "limit"), ("after=not-a-cursor", "after"),
                // A cursor's time far outside what is stored gave 500 (the database's timestamp range).
                ("after=-671401889711300961_0273e0b8-c721-f0dd-08a0-73f0a7cd449c", "after"),
                ("after=123456789012345678_0273e0b8-c721-f0dd-08a0-73f0a7cd449c", "after"),
                ("after=%2B5_0273e0b8-c721-f0dd-08a0-73f0a7cd449c", "after"),
                ("state=", "state"), ("state=queued,,running", "state"),
            ]
            for (query, field) in queries {
                let response = try await h.request(.get, "/v1/executions?\(query)")
                let code = field == "after" ? "invalid_cursor" : field == "state" ? "invalid_field" : "out_of_range"
                try h.expectProblem(response, status: .unprocessableContent, code: code, field: field)
            }
            let page = try await h.request(.get, "/v1/executions?after=99999999999999999_0273e0b8-c721-f0dd-08a0-73f0a7cd449c")
            #expect(page.status == .ok, "the largest cursor is a cursor: \(page.text)")
            let token = try await post(h, Array(#"{"name":"t","role":"viewer","expires_in_seconds":1e30}"#.utf8), to: "/v1/tokens")
            #expect(token.status == .unprocessableContent, "\(token.text)")
            #expect(try token.json()["field"]?.stringValue == "expires_in_seconds")
        }
    }

    @Test("hostile paths and request lines get 4xx, never 5xx, and the server stays up")
    func hostilePaths() async throws {
        try await live { h in
            for path in [
                "/v1/executions/..%2F..%2Fetc%2Fpasswd", "/v1/executions/%00", "/v1/executions/%2e%2e",
                "/v1/executions/" + String(repeating: "a", count: 4000), "/v1/executions/00000000-0000-0000-0000-000000000000/logs?since=%00",
            ] {
                let response = try await h.request(.get, path)
                #expect(response.status.kind == .clientError, "\(path.prefix(80)): \(response.status)")
                #expect(response.headers[.contentType] == "application/problem+json")
            }
            let port = try #require(h.client.port)
            let auth = "Authorization: Bearer \(h.adminToken)\r\n"
            let requests: [[UInt8]] = [
                Array("GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\(auth)Connection: close\r\n\r\n".utf8),
                Array("GET /v1/executions/".utf8) + [0xFF, 0xFE] + Array(" HTTP/1.1\r\nHost: x\r\n\(auth)Connection: close\r\n\r\n".utf8),
                Array("GET /v1/executions HTTP/1.1\r\nHost: x\r\nX-Bad: ".utf8) + [0xFF, 0x00] + Array("\r\n\(auth)Connection: close\r\n\r\n".utf8),
                [0x00, 0x01, 0x02, 0x03] + Array(" / HTTP/1.1\r\n\r\n".utf8),
                Array("GET /healthz HTTP/9.9\r\nConnection: close\r\n\r\n".utf8),
                Array("POST /v1/executions HTTP/1.1\r\nHost: x\r\n\(auth)Content-Length: 5\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{}{}{}{".utf8),
                Array("POST /v1/executions HTTP/1.1\r\nHost: x\r\n\(auth)Content-Length: -1\r\nConnection: close\r\n\r\n".utf8),
            ]
            for (index, request) in requests.enumerated() {
                let answer = String(decoding: try await RawConnection.exchange(port, request), as: UTF8.self)
                let shown = "\(String(decoding: request.prefix(60), as: UTF8.self)) → \(answer.prefix(200))"
                #expect(!answer.hasPrefix("HTTP/1.1 5"), "\(shown)")
                if index < 2 {
                    // Paths outside the API: a 4xx (or the connection closed, for bytes that are not a path).
                    #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 4"), "\(shown)")
                }
            }
        }
    }
}
