import BerthCore
import BerthPluginKit
import BerthPostgres
@testable import BerthServer
import BerthTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// `GET /v1/executions/{id}/progress` and `…/result`, and how the Store keeps reports.
@Suite("Progress and result routes", .postgresServer)
struct ReportRouteTests {
    @Test("404 no_progress and no_result until there is one; then the latest report with its attempt, source and time")
    func routes() async throws {
        try await ServerHarness.run { h in
            let id = try h.id(of: try await h.submit(["image": "x"]))
            let path = "/v1/executions/\(id.uuidString.lowercased())"
            let noProgress = try await h.request(.get, path + "/progress")
            try h.expectProblem(noProgress, status: .notFound, code: "no_progress")
            #expect(try noProgress.json()["detail"]?.stringValue?.contains("yet") == true)
            try h.expectProblem(try await h.request(.get, path + "/result"), status: .notFound, code: "no_result")

            let t0 = Date(timeIntervalSince1970: 1_800_000_000)
            try await h.store.recordReport(ExecutionReport(executionID: id, kind: .progress, attempt: 1, source: .stdout, body: ["step": 2], at: t0.addingTimeInterval(1)))
            // An older report of the same attempt does not replace a newer one.
            try await h.store.recordReport(ExecutionReport(executionID: id, kind: .progress, attempt: 1, source: .stdout, body: ["step": 1], at: t0))
            let progress = try await h.request(.get, path + "/progress").json()
            #expect(progress == [
                "execution_id": .string(id.uuidString.lowercased()), "attempt": 1, "source": "stdout",
                "at": "2027-01-15T08:00:01Z", "progress": ["step": 2],
            ])
            // A later attempt replaces it, whatever its time.
            try await h.store.recordReport(ExecutionReport(executionID: id, kind: .progress, attempt: 2, source: .stdout, body: ["step": 0], at: t0))
            #expect(try await h.request(.get, path + "/progress").json()["progress"] == ["step": 0])

            try await h.store.recordReport(ExecutionReport(
                executionID: id, kind: .result, attempt: 2, source: .file, body: ["answer": 42, "nested": ["a": [1, "two", nil]]], at: t0))
            let result = try await h.request(.get, path + "/result").json()
            #expect(result["result"] == ["answer": 42, "nested": ["a": [1, "two", nil]]])
            #expect(result["source"] == "file")
            #expect(result["attempt"] == 2)
        }
    }

    @Test("the 404 for a finished execution says it ended without a result")
    func endedWithoutResult() async throws {
        try await ServerHarness.run { h in
            let id = try h.id(of: try await h.submit(["image": "x"]))
            _ = try await h.request(.post, "/v1/executions/\(id.uuidString)/cancel")
            let answer = try await h.request(.get, "/v1/executions/\(id.uuidString)/result")
            try h.expectProblem(answer, status: .notFound, code: "no_result")
            #expect(try answer.json()["detail"]?.stringValue?.contains("ended (cancelled) without a result") == true)
        }
    }
}

/// `GET /v1/executions/{id}/artifacts` and the inline `config` of a submission.
@Suite("Artifacts route and inline config", .postgresServer)
struct ArtifactRouteTests {
    @Test("the latest attempt's archive streams back byte for byte; 404 no_artifacts before, 409 when not kept")
    func artifacts() async throws {
        try await ServerHarness.run { h in
            let id = try h.id(of: try await h.submit(["image": "x"]))
            let path = "/v1/executions/\(id.uuidString.lowercased())/artifacts"
            let none = try await h.request(.get, path)
            try h.expectProblem(none, status: .notFound, code: "no_artifacts")
            #expect(try none.json()["detail"]?.stringValue?.contains("yet") == true)

            // Attempt 1 was not kept; attempt 2's archive spans several chunks.
            try await h.store.beginArtifacts(of: id, attempt: 1)
            try await h.store.finishArtifacts(of: id, attempt: 1, bytes: 5000, error: "the outputs are larger than outputs.max_artifact_bytes")
            let notKept = try await h.request(.get, path)
            try h.expectProblem(notKept, status: .conflict, code: "artifacts_unavailable")
            #expect(try notKept.json()["detail"]?.stringValue?.contains("max_artifact_bytes") == true)
            try await h.store.beginArtifacts(of: id, attempt: 2)
            let parts = (1...9).map { n in (0..<(1000 * n)).map { UInt8(truncatingIfNeeded: $0 &* n) } }
            for (index, part) in parts.enumerated() {
                try await h.store.appendArtifactChunk(of: id, attempt: 2, seq: index + 1, data: part)
            }
            let collecting = try await h.request(.get, path)
            try h.expectProblem(collecting, status: .conflict, code: "artifacts_unavailable")
            #expect(try collecting.json()["detail"]?.stringValue?.contains("still being collected") == true)
            let total = parts.reduce(0) { $0 + $1.count }
            try await h.store.finishArtifacts(of: id, attempt: 2, bytes: Int64(total), error: nil)
            let archive = try await h.request(.get, path)
            #expect(archive.status == .ok)
            #expect(archive.headers[.contentType] == "application/x-tar")
            #expect(archive.headers[.contentLength] == String(total))
            #expect(archive.headers[.contentDisposition] == "attachment; filename=\"\(id.uuidString.lowercased())-attempt-2.tar\"")
            #expect(Array(archive.body.readableBytesView) == parts.flatMap { $0 })

            // Past retention: logs and outputs answer 410, naming retention; the result stays.
            _ = try await h.store.transition(id, from: .queued, to: .cancelled, reason: "test")
            try await h.store.recordReport(ExecutionReport(executionID: id, kind: .result, attempt: 2, source: .file, body: ["ok": true], at: Date()))
            #expect(try await h.store.expireOutputs(finishedBefore: Date().addingTimeInterval(60), limit: 10) == [id])
            for route in ["/artifacts", "/logs"] {
                let gone = try await h.request(.get, "/v1/executions/\(id.uuidString.lowercased())" + route)
                try h.expectProblem(gone, status: .gone, code: "outputs_expired")
                #expect(try gone.json()["detail"]?.stringValue?.contains("retention") == true)
            }
            #expect(try await h.request(.get, "/v1/executions/\(id.uuidString.lowercased())/result").status == .ok)
            #expect(try await h.request(.get, "/v1/executions/\(id.uuidString.lowercased())").json()["outputs_expired_at"]?.stringValue != nil)
        }
    }

    @Test("config must be a JSON object without NUL; it is returned as given and an idempotent replay compares it")
    func inlineConfig() async throws {
        try await ServerHarness.run { h in
            let config: JSONValue = ["steps": 1000, "model": ["layers": [64, 32]], "tag": "é"]
            let created = try await h.submit(["image": "x", "config": config])
            #expect(created["config"] == config)
            let stored = try #require(try await h.store.execution(id: try h.id(of: created)))
            #expect(try JSONValue(parsing: try #require(stored.config)) == config)
            #expect(try await h.submit(["image": "x"])["config"] == .null)
            for bad: JSONValue in ["text", [1, 2], 3, ["k": "a\u{0}b"]] {
                let answer = try await h.request(.post, "/v1/executions", json: ["image": "x", "config": bad])
                try h.expectProblem(answer, status: .unprocessableContent, code: "invalid_field", field: "config")
            }
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "cfg"]
            let first = try await h.request(.post, "/v1/executions", json: ["image": "x", "config": ["a": 1, "b": [true]]], headers: key)
            let replay = try await h.request(.post, "/v1/executions", json: ["image": "x", "config": ["b": [true], "a": 1]], headers: key)
            #expect(try first.json()["id"] == replay.json()["id"])
            let other = try await h.request(.post, "/v1/executions", json: ["image": "x", "config": ["a": 2]], headers: key)
            try h.expectProblem(other, status: .conflict, code: "idempotency_key_reused")
        }
    }
}
