import BerthCore
import BerthPluginKit
import BerthPostgres
@testable import BerthServer
import BerthTestSupport
import Foundation
import HTTPTypes
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
