import BerthCore
import BerthPluginKit
import BerthPostgres
import HTTPTypes
@testable import BerthServer
import BerthTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Every test runs the real application on a real PostgreSQL database.
@Suite(.postgresServer)
struct ServerTests {}

extension ServerTests {
    static let fullSubmission: JSONValue = [
        "image": "berth-test/busybox:1",
        "command": ["sh", "-c"],
        "args": ["echo hi"],
        "env": ["HOME": "/root", "_X1": "y"],
        "working_dir": "/tmp",
        "target_host": "sim",
        "labels": ["team": "a"],
        "cpus": 1.5,
        "memory_mb": 256,
        "timeout_seconds": 60,
        "priority": 7,
        "name": "hello",
        "max_attempts": 3,
        "retry_on_exit_codes": [75, 3, 75],
        "retry_backoff_seconds": 0.5,
    ]

    @Test func submitReturns201AndGetReturnsEveryField() async throws {
        try await ServerHarness.run { h in
            let created = try await h.submit(Self.fullSubmission)
            let id = try h.id(of: created)
            #expect(created["image"] == "berth-test/busybox:1")
            #expect(created["command"] == ["sh", "-c"])
            #expect(created["args"] == ["echo hi"])
            #expect(created["env"] == ["HOME": "/root", "_X1": "y"])
            #expect(created["working_dir"] == "/tmp")
            #expect(created["target_host"] == "sim")
            #expect(created["host"] == .null)
            #expect(created["state"] == "queued")
            #expect(created["exit_code"] == .null)
            #expect(created["error"] == .null)
            #expect(created["attempts"] == 0)
            #expect(created["priority"] == 7)
            #expect(created["labels"] == ["team": "a"])
            #expect(created["cpus"] == 1.5)
            #expect(created["memory_mb"] == 256)
            #expect(created["timeout_seconds"] == 60)
            #expect(created["name"] == "hello")
            #expect(created["max_attempts"] == 3)
            #expect(created["retry_on_exit_codes"] == [3, 75])
            #expect(created["retry_backoff_seconds"] == 0.5)
            #expect(created["not_before"] == .null)
            #expect(created["owner"] == "admin")
            #expect(created["started_at"] == .null)
            #expect(created["finished_at"] == .null)
            #expect(created["state_reason"] != nil)
            let createdAt = try #require(created["created_at"]?.stringValue)
            #expect(Timestamp(rfc3339: createdAt) != nil)
            for key in ["id", "name", "image", "command", "args", "env", "target_host", "host", "state", "exit_code",
                        "error", "attempts", "priority", "labels", "cpus", "memory_mb", "timeout_seconds", "created_at",
                        "started_at", "finished_at", "state_reason", "max_attempts", "retry_on_exit_codes",
                        "retry_backoff_seconds", "not_before"] {
                #expect(created[key] != nil, "missing \(key)")
            }
            let stored = try #require(try await h.store.execution(id: id))
            #expect(stored.memoryBytes == 256 << 20)

            let fetched = try await h.request(.get, "/v1/executions/\(id.uuidString.lowercased())")
            #expect(fetched.status == .ok)
            #expect(fetched.headers[.contentType] == "application/json")
            #expect(try fetched.json() == created)
            // Upper-case ids are the same id.
            #expect(try await h.request(.get, "/v1/executions/\(id.uuidString)").status == .ok)
        }
    }

    @Test func defaultHostIsUsedWhenNoneIsGiven() async throws {
        try await ServerHarness.run(configuration: ServerConfiguration(defaultHost: "sim")) { h in
            let created = try await h.submit(["image": "x"])
            #expect(created["target_host"] == "sim")
            #expect(created["args"] == [])
            #expect(created["env"] == [:])
            #expect(created["command"] == .null)
            #expect(created["priority"] == 0)
            #expect(created["max_attempts"] == 1)
            #expect(created["retry_on_exit_codes"] == [])
            #expect(created["retry_backoff_seconds"] == 2)
        }
    }

    @Test func listPagesWithCursorAndFilters() async throws {
        try await ServerHarness.run { h in
            var ids: [UUID] = []
            for index in 0..<5 {
                let created = try await h.submit([
                    "image": "x", "name": .string(index % 2 == 0 ? "even" : "odd"),
                    "labels": ["team": .string(index < 3 ? "a" : "b"), "n": .string(String(index))],
                    "target_host": index == 4 ? "sim" : nil,
                ])
                ids.append(try h.id(of: created))
            }
            // Pages of two, newest first, no duplicates, no omissions.
            var seen: [String] = []
            var uri = "/v1/executions?limit=2"
            var pages = 0
            while true {
                let page = try await h.request(.get, uri)
                #expect(page.status == .ok, "\(page.text)")
                let json = try page.json()
                let items = try #require(json["items"]?.arrayValue)
                #expect(items.count <= 2)
                seen += items.compactMap { $0["id"]?.stringValue }
                pages += 1
                guard let next = json["next"]?.stringValue else {
                    #expect(json["next"] == .null)
                    break
                }
                uri = "/v1/executions?limit=2&after=\(next)"
                #expect(pages < 10)
            }
            #expect(seen == ids.reversed().map { $0.uuidString.lowercased() })
            #expect(pages == 3)

            func idsOf(_ uri: String) async throws -> Set<String> {
                let response = try await h.request(.get, uri)
                #expect(response.status == .ok, "\(uri): \(response.text)")
                return Set(try #require(try response.json()["items"]?.arrayValue).compactMap { $0["id"]?.stringValue })
            }
            func lower(_ indexes: Int...) -> Set<String> { Set(indexes.map { ids[$0].uuidString.lowercased() }) }

            #expect(try await h.request(.post, "/v1/executions/\(ids[1].uuidString.lowercased())/cancel").status == .ok)
            #expect(try await idsOf("/v1/executions?state=cancelled") == lower(1))
            #expect(try await idsOf("/v1/executions?state=queued") == lower(0, 2, 3, 4))
            #expect(try await idsOf("/v1/executions?state=queued,cancelled") == lower(0, 1, 2, 3, 4))
            #expect(try await idsOf("/v1/executions?state=queued&state=cancelled") == lower(0, 1, 2, 3, 4))
            #expect(try await idsOf("/v1/executions?label=team=a") == lower(0, 1, 2))
            #expect(try await idsOf("/v1/executions?label=team=a&label=n=2") == lower(2))
            #expect(try await idsOf("/v1/executions?name=even") == lower(0, 2, 4))
            #expect(try await idsOf("/v1/executions?host=sim") == lower(4))
            #expect(try await idsOf("/v1/executions?name=even&state=queued&label=team=b") == lower(4))

            try h.expectProblem(try await h.request(.get, "/v1/executions?limit=0"), status: .unprocessableContent, code: "out_of_range", field: "limit")
            try h.expectProblem(try await h.request(.get, "/v1/executions?limit=501"), status: .unprocessableContent, code: "out_of_range", field: "limit")
            try h.expectProblem(try await h.request(.get, "/v1/executions?limit=x"), status: .unprocessableContent, code: "out_of_range", field: "limit")
            try h.expectProblem(try await h.request(.get, "/v1/executions?after=nope"), status: .unprocessableContent, code: "invalid_cursor", field: "after")
            try h.expectProblem(try await h.request(.get, "/v1/executions?state=bogus"), status: .unprocessableContent, code: "invalid_field", field: "state")
            try h.expectProblem(try await h.request(.get, "/v1/executions?label=novalue"), status: .unprocessableContent, code: "invalid_field", field: "label")
            // NUL in a filter: 422 naming it, not a 500 from the database (found by schemathesis).
            for (query, field) in [("host=a%00b", "host"), ("name=%00", "name"), ("label=k%00=v", "label")] {
                try h.expectProblem(try await h.request(.get, "/v1/executions?\(query)"), status: .unprocessableContent, code: "invalid_field", field: field)
            }
            try h.expectProblem(try await h.request(.get, "/v1/executions?states=queued"), status: .unprocessableContent, code: "unknown_parameter", field: "states")
        }
    }

    @Test func idempotencyKeyReturnsTheFirstExecution() async throws {
        try await ServerHarness.run { h in
            let headers: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "retry-me-1"]
            let first = try await h.request(.post, "/v1/executions", json: ["image": "x", "args": ["1"]], headers: headers)
            #expect(first.status == .created)
            #expect(first.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            let second = try await h.request(.post, "/v1/executions", json: ["image": "x", "args": ["1"]], headers: headers)
            #expect(second.status == .created)
            #expect(second.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(try first.json() == second.json())
            let page = try await h.store.listExecutions(ExecutionQuery(limit: 100))
            #expect(page.executions.count == 1)
            // The same key with a different submission is refused.
            let other = try await h.request(.post, "/v1/executions", json: ["image": "y"], headers: headers)
            try h.expectProblem(other, status: .conflict, code: "idempotency_key_reused")
            // Another key makes another execution.
            let third = try await h.request(
                .post, "/v1/executions", json: ["image": "x", "args": ["1"]],
                headers: [HTTPField.Name("Idempotency-Key")!: "retry-me-2"])
            #expect(third.status == .created)
            #expect(try third.json()["id"] != first.json()["id"])
            #expect(try await h.store.listExecutions(ExecutionQuery(limit: 100)).executions.count == 2)
        }
    }

    @Test func invalidSubmissionsName422Fields() async throws {
        try await ServerHarness.run { h in
            let cases: [(JSONValue, String, String)] = [
                ([:], "image", "missing_field"),
                (["image": ""], "image", "invalid_field"),
                (["image": 3], "image", "invalid_field"),
                (["image": "x", "target_host": "nowhere"], "target_host", "unknown_target_host"),
                (["image": "x", "env": ["1BAD": "v"]], "env.1BAD", "invalid_env_name"),
                (["image": "x", "env": ["A-B": "v"]], "env.A-B", "invalid_env_name"),
                (["image": "x", "env": ["OK": 1]], "env.OK", "invalid_field"),
                (["image": "x", "cpus": 0], "cpus", "out_of_range"),
                (["image": "x", "cpus": -1], "cpus", "out_of_range"),
                (["image": "x", "memory_mb": 0], "memory_mb", "out_of_range"),
                (["image": "x", "memory_mb": -5], "memory_mb", "out_of_range"),
                (["image": "x", "timeout_seconds": 0], "timeout_seconds", "out_of_range"),
                (["image": "x", "priority": 1001], "priority", "out_of_range"),
                (["image": "x", "priority": -1001], "priority", "out_of_range"),
                (["image": "x", "priority": 1.5], "priority", "invalid_field"),
                (["image": "x", "max_attempts": 0], "max_attempts", "out_of_range"),
                (["image": "x", "max_attempts": 101], "max_attempts", "out_of_range"),
                (["image": "x", "max_attempts": "3"], "max_attempts", "invalid_field"),
                (["image": "x", "retry_on_exit_codes": [3, 0]], "retry_on_exit_codes[1]", "out_of_range"),
                (["image": "x", "retry_on_exit_codes": [256]], "retry_on_exit_codes[0]", "out_of_range"),
                (["image": "x", "retry_on_exit_codes": ["3"]], "retry_on_exit_codes[0]", "invalid_field"),
                (["image": "x", "retry_on_exit_codes": 3], "retry_on_exit_codes", "invalid_field"),
                (["image": "x", "retry_backoff_seconds": -1], "retry_backoff_seconds", "out_of_range"),
                (["image": "x", "retry_backoff_seconds": 3601], "retry_backoff_seconds", "out_of_range"),
                (["image": "x", "colour": "red"], "colour", "unknown_field"),
                // NUL nowhere (the database and argv cannot hold it); no control characters in names and labels.
                (["image": "x", "args": ["ok", "a\u{0}b"]], "args[1]", "invalid_field"),
                (["image": "x", "env": ["A": "\u{0}"]], "env.A", "invalid_field"),
                (["image": "x\u{0}"], "image", "invalid_field"),
                (["image": "x", "name": "a\u{7}"], "name", "invalid_field"),
                (["image": "x", "labels": ["k": "v\u{1b}[31m"]], "labels.k", "invalid_label"),
                (["image": "x", "labels": ["k\u{0}": "v"]], "labels", "invalid_label"),
                (["image": "x", "args": "ls"], "args", "invalid_field"),
                (["image": "x", "args": ["ok", 2]], "args[1]", "invalid_field"),
                (["image": "x", "labels": ["k": true]], "labels.k", "invalid_field"),
                (["image": "x", "memory_mb": "lots"], "memory_mb", "invalid_field"),
                (["x", "y"], "$", "invalid_field"),
            ]
            for (body, field, code) in cases {
                let response = try await h.request(.post, "/v1/executions", json: body)
                try h.expectProblem(response, status: .unprocessableContent, code: code, field: field)
            }
            // Boundaries are accepted.
            _ = try await h.submit(["image": "x", "priority": 1000])
            _ = try await h.submit(["image": "x", "priority": -1000])
            _ = try await h.submit(["image": "x", "max_attempts": 100, "retry_on_exit_codes": [1, 255], "retry_backoff_seconds": 3600])
            _ = try await h.submit(["image": "x", "max_attempts": 1, "retry_backoff_seconds": 0])
            #expect(try await h.store.listExecutions(ExecutionQuery(limit: 100)).executions.count == 4)
        }
    }

    @Test func malformedJSONIs400AndOversizeIs413() async throws {
        try await ServerHarness.run { h in
            let auth: HTTPFields = [.authorization: "Bearer \(h.adminToken)"]
            let malformed = try await h.client.execute(
                uri: "/v1/executions", method: .post, headers: [.contentType: "application/json", .authorization: "Bearer \(h.adminToken)"],
                body: ByteBuffer(string: #"{"image": "x",,}"#))
            try h.expectProblem(malformed, status: .badRequest, code: "malformed_json")
            let empty = try await h.client.execute(uri: "/v1/executions", method: .post, headers: auth, body: ByteBuffer())
            try h.expectProblem(empty, status: .badRequest, code: "malformed_json")

            // A real body one byte over the limit: valid JSON, so only its size is wrong.
            let limit = h.configuration.maxBodyBytes
            let prefix = #"{"image":"x","name":""#
            let suffix = #""}"#
            let filler = String(repeating: "a", count: limit + 1 - prefix.utf8.count - suffix.utf8.count)
            let body = ByteBuffer(string: prefix + filler + suffix)
            #expect(body.readableBytes == limit + 1)
            let oversize = try await h.client.execute(uri: "/v1/executions", method: .post, headers: auth, body: body)
            try h.expectProblem(oversize, status: .contentTooLarge, code: "body_too_large")
            #expect(try await h.store.listExecutions(ExecutionQuery(limit: 10)).executions.isEmpty)
        }
    }

    @Test func unknownIDsAndRoutesAre404Problems() async throws {
        try await ServerHarness.run { h in
            let random = UUID().uuidString.lowercased()
            for path in ["/v1/executions/\(random)", "/v1/executions/\(random)/logs", "/v1/executions/\(random)/events"] {
                try h.expectProblem(try await h.request(.get, path), status: .notFound, code: "execution_not_found")
            }
            try h.expectProblem(try await h.request(.post, "/v1/executions/\(random)/cancel"), status: .notFound, code: "execution_not_found")
            try h.expectProblem(try await h.request(.get, "/v1/executions/not-a-uuid"), status: .notFound, code: "execution_not_found")
            try h.expectProblem(try await h.request(.get, "/v2/nothing"), status: .notFound, code: "route_not_found")
            // A known path with a method it does not take: 405 naming the methods it does.
            let wrongMethod = try await h.request(.delete, "/v1/executions")
            try h.expectProblem(wrongMethod, status: .methodNotAllowed, code: "method_not_allowed")
            #expect(wrongMethod.headers[.allow] == "POST, GET")
            let wrongOnID = try await h.request(.put, "/v1/executions/\(UUID().uuidString)/cancel", as: .anonymous)
            try h.expectProblem(wrongOnID, status: .methodNotAllowed, code: "method_not_allowed")
            #expect(wrongOnID.headers[.allow] == "POST")
            // An empty cursor is the first page.
            #expect(try await h.request(.get, "/v1/executions?after=").status == .ok)
        }
    }

    @Test func cancelRouteAndEvents() async throws {
        try await ServerHarness.run { h in
            let id = try h.id(of: try await h.submit(["image": "x"])).uuidString.lowercased()
            let cancelled = try await h.request(.post, "/v1/executions/\(id)/cancel")
            #expect(cancelled.status == .ok)
            #expect(try cancelled.json()["state"] == "cancelled")
            #expect(try cancelled.json()["finished_at"] != .null)
            // Cancelling a terminal execution changes nothing.
            let again = try await h.request(.post, "/v1/executions/\(id)/cancel")
            #expect(again.status == .ok)
            #expect(try again.json()["state"] == "cancelled")

            let events = try await h.request(.get, "/v1/executions/\(id)/events")
            #expect(events.status == .ok)
            let items = try #require(try events.json()["items"]?.arrayValue)
            #expect(items.count == 2)
            #expect(items.first?["from_state"] == .null)
            #expect(items.first?["to_state"] == "queued")
            #expect(items.last?["from_state"] == "queued")
            #expect(items.last?["to_state"] == "cancelled")
            #expect(items.last?["reason"] == "cancelled through the API by admin")
            #expect(items.last?["execution_id"] == .string(id))
        }
    }

    @Test func internalErrorsAre500WithoutDetails() async throws {
        struct FailingControl: ExecutionControl {
            func cancel(_ id: UUID, reason: String) async throws(StoreError) -> Execution? {
                throw StoreError(code: .internalError, message: "secret internals: password=hunter2")
            }
        }
        try await ServerHarness.run(control: { _ in FailingControl() }) { h in
            let id = try h.id(of: try await h.submit(["image": "x"]))
            let response = try await h.request(.post, "/v1/executions/\(id.uuidString)/cancel")
            try h.expectProblem(response, status: .internalServerError, code: "internal")
            #expect(!response.text.contains("hunter2"))
            #expect(!response.text.contains("secret"))
        }
    }

    @Test func liveServerAnswersOverHTTP() async throws {
        try await ServerHarness.run(configuration: ServerConfiguration(port: 0), setup: .live) { h in
            #expect(h.client.port != nil)
            let created = try await h.submit(["image": "x", "target_host": "sim"])
            let fetched = try await h.request(.get, "/v1/executions/\(try h.id(of: created).uuidString.lowercased())")
            #expect(try fetched.json() == created)
            try h.expectProblem(try await h.request(.get, "/nope"), status: .notFound, code: "route_not_found")
        }
    }
}
