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

/// The job-service routes (`POST /run-simulation` …) through the real application on a real
/// PostgreSQL: what they accept, what they refuse, and the answers' shapes. The same routes on
/// real containers: `JobServiceTests` (BerthCLITests).
@Suite("Job-service routes", .postgresServer)
struct JobServiceRouteTests {
    /// A config folder with good, bad and escaping entries, removed afterwards.
    private static func withConfigFolder(_ body: (URL) async throws -> Void) async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("berth-jobs-\(UUID().uuidString.prefix(8))")
        let folder = base.appendingPathComponent("configs")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("dir"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: base) }
        func write(_ name: String, _ text: String) throws {
            try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try write("a.yaml", "steps: 3\nname: demo\n")
        try write("sub/b.json", #"{"x": [1, 2]}"#)
        try write("list.yaml", "- 1\n- 2\n")
        try write("bad.json", "{")
        try write("twice.json", #"{"a": 1, "a": 2}"#)
        try write("big.json", #"{"pad": ""# + String(repeating: "x", count: 1 << 20) + #""}"#)
        try "secret: 1\n".write(to: base.appendingPathComponent("secret.yaml"), atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("escape.yaml").path, withDestinationPath: "../secret.yaml")
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("inside.yaml").path, withDestinationPath: "a.yaml")
        try await body(folder)
    }

    private static func configuration(folder: URL?, maxLogResponseBytes: Int = 10 << 20) -> ServerConfiguration {
        var settings = JobServiceSettings(image: "berth/sim:1")
        settings.command = ["/bin/sim"]
        settings.args = ["--config", "/berth/in/config.json"]
        settings.env = ["MODE": "batch"]
        settings.configFolder = folder?.path
        settings.timeoutSeconds = 600
        settings.maxLogResponseBytes = maxLogResponseBytes
        var configuration = ServerConfiguration()
        configuration.jobService = settings
        return configuration
    }

    @Test("the routes exist only when configured: 404 and absent from the OpenAPI document otherwise; /health needs no token")
    func onlyWhenConfigured() async throws {
        try await ServerHarness.run { h in
            for (method, path) in [(HTTPRequest.Method.get, "/health"), (.post, "/run-simulation"), (.get, "/jobs"), (.get, "/status/\(UUID())")] {
                try h.expectProblem(try await h.request(method, path), status: .notFound, code: "route_not_found")
            }
            let document = try await h.request(.get, "/openapi.json").json()
            #expect(document["paths"]?["/run-simulation"] == nil)
            #expect(document["components"]?["schemas"]?["RunSimulationRequest"] == nil)
        }
        try await ServerHarness.run(configuration: Self.configuration(folder: nil)) { h in
            let health = try await h.request(.get, "/health", as: .anonymous)
            #expect(health.status == .ok)
            #expect(try health.json() == ["status": "healthy"])
            try h.expectProblem(try await h.request(.get, "/jobs", as: .anonymous), status: .unauthorized, code: "unauthenticated")
            try h.expectProblem(try await h.request(.get, "/run-simulation"), status: .methodNotAllowed, code: "method_not_allowed")
            let document = try await h.request(.get, "/openapi.json").json()
            #expect(document["paths"]?["/run-simulation"]?["post"]?["operationId"] == "runSimulation")
            #expect(document["components"]?["schemas"]?["RunSimulationRequest"]?["properties"]?["target_host"]?["enum"] == ["sim", nil])
        }
    }

    @Test("run-simulation reads config_path only from inside the config folder, as JSON or YAML, and says what is wrong")
    func configPath() async throws {
        try await Self.withConfigFolder { folder in
            try await ServerHarness.run(configuration: Self.configuration(folder: folder)) { h in
                let started = try await h.request(.post, "/run-simulation", json: ["config_path": "a.yaml"])
                #expect(started.status == .ok, "\(started.text)")
                let answer = try started.json()
                #expect(answer["status"] == "queued")
                #expect(answer["message"] == "simulation submitted")
                let id = try #require(answer["job_id"]?.stringValue.flatMap(UUID.init(uuidString:)))
                let execution = try #require(try await h.store.execution(id: id))
                #expect(execution.image == "berth/sim:1")
                #expect(execution.command == ["/bin/sim"])
                #expect(execution.args == ["--config", "/berth/in/config.json"])
                #expect(execution.env == ["MODE": "batch", "BERTH_CONFIG_SOURCE": "a.yaml"])
                #expect(execution.labels == ["berth.origin": "job-service"])
                #expect(execution.timeoutSeconds == 600)
                #expect(try JSONValue(parsing: try #require(execution.config)) == ["steps": 3, "name": "demo"])

                // Absolute inside the folder, a symbolic link that stays inside, and inline.
                for body: JSONValue in [["config_path": .string(folder.path + "/sub/b.json")], ["config_path": "inside.yaml"], ["config": ["inline": true]]] {
                    let response = try await h.request(.post, "/run-simulation", json: body)
                    #expect(response.status == .ok, "\(body): \(response.text)")
                }

                let refused: [(JSONValue, String, String)] = [
                    (["config_path": "../secret.yaml"], "config_path", "config_path_outside_folder"),
                    (["config_path": "sub/../../secret.yaml"], "config_path", "config_path_outside_folder"),
                    (["config_path": "/etc/passwd"], "config_path", "config_path_outside_folder"),
                    (["config_path": "escape.yaml"], "config_path", "config_path_outside_folder"),
                    (["config_path": "missing.yaml"], "config_path", "config_not_found"),
                    (["config_path": "dir"], "config_path", "config_not_found"),
                    (["config_path": "list.yaml"], "config_path", "invalid_config"),
                    (["config_path": "bad.json"], "config_path", "invalid_config"),
                    (["config_path": "twice.json"], "config_path", "invalid_config"),
                    (["config_path": "big.json"], "config_path", "config_too_large"),
                    (["config_path": ""], "config_path", "invalid_field"),
                    (["config_path": "a\u{1}.yaml"], "config_path", "invalid_field"),
                    (["config_path": nil, "config": ["a": 1]], "config_path", "invalid_field"),
                    (["config_path": "a.yaml", "config": nil], "config", "invalid_field"),
                    ([:], "config_path", "config_required"),
                    (["config_path": "a.yaml", "config": ["a": 1]], "config", "config_conflict"),
                    (["config": 3], "config", "invalid_field"),
                    (["config": ["a": 1], "image": "evil"], "image", "unknown_field"),
                    (["config": ["a": 1], "target_host": "nowhere"], "target_host", "unknown_target_host"),
                ]
                for (body, field, code) in refused {
                    let response = try await h.request(.post, "/run-simulation", json: body)
                    try h.expectProblem(response, status: .unprocessableContent, code: code, field: field)
                    // The message a FastAPI client prints names the file as the caller gave it, never the server's folder.
                    #expect(try response.json()["detail"]?.stringValue?.contains(folder.deletingLastPathComponent().path) == false)
                }
                // Nothing was created by the refused requests.
                #expect(try await h.store.listExecutions(ExecutionQuery(limit: 100)).executions.count == 4)
            }
        }
        try await ServerHarness.run(configuration: Self.configuration(folder: nil)) { h in
            try h.expectProblem(
                try await h.request(.post, "/run-simulation", json: ["config_path": "a.yaml"]),
                status: .unprocessableContent, code: "config_path_unavailable", field: "config_path")
        }
    }

    @Test("status, progress, result, logs, stop, jobs and job-info follow the execution, in the job services' shapes")
    func answers() async throws {
        try await ServerHarness.run(configuration: Self.configuration(folder: nil, maxLogResponseBytes: 1024)) { h in
            let started = try await h.request(.post, "/run-simulation", json: ["config": ["steps": 2], "target_host": "sim"]).json()
            let jobID = try #require(started["job_id"]?.stringValue)
            let id = try #require(UUID(uuidString: jobID))
            #expect(started["target_host"] == "sim")
            // An execution submitted through /v1 is not a job, but its id works on the job routes.
            let other = try h.id(of: try await h.submit(["image": "x"]))

            var status = try await h.request(.get, "/status/\(jobID)").json()
            #expect(status == ["job_id": .string(jobID), "status": "queued", "state": "queued", "exit_code": nil, "error": nil])
            #expect(try await h.request(.get, "/progress/\(jobID)").json() == ["job_id": .string(jobID), "status": "queued", "progress": nil, "updated_at": nil])
            try h.expectProblem(try await h.request(.get, "/result/\(jobID)"), status: .notFound, code: "no_result")

            _ = try await h.store.transition(id, from: .queued, to: .scheduled, reason: "test", changes: TransitionChanges(host: "sim", attempt: 1))
            #expect(try await h.request(.get, "/status/\(jobID)").json()["status"] == "starting")
            _ = try await h.store.transition(id, from: .scheduled, to: .starting, reason: "test")
            _ = try await h.store.transition(id, from: .starting, to: .running, reason: "test")
            let at = Date(timeIntervalSince1970: 1_800_000_000)
            try await h.store.recordReport(ExecutionReport(executionID: id, kind: .progress, attempt: 1, source: .stdout, body: ["pct": 50], at: at))
            #expect(try await h.request(.get, "/progress/\(jobID)").json() == [
                "job_id": .string(jobID), "status": "running", "progress": ["pct": 50], "updated_at": "2027-01-15T08:00:00Z",
            ])
            // Logs: both streams in order; tail; the end of an output over the cap, cut at a line start.
            try await h.store.appendLogs([
                NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("one\n".utf8)),
                NewLogChunk(executionID: id, attempt: 1, stream: .stderr, bytes: Array("warn\n".utf8)),
                NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array("two\n".utf8)),
            ])
            #expect(try await h.request(.get, "/logs/\(jobID)").json() == [
                "job_id": .string(jobID), "status": "running", "logs": "one\nwarn\ntwo\n", "truncated": false,
            ])
            #expect(try await h.request(.get, "/logs/\(jobID)?tail=2").json()["logs"] == "warn\ntwo\n")
            try h.expectProblem(try await h.request(.get, "/logs/\(jobID)?tail=x"), status: .unprocessableContent, code: "out_of_range", field: "tail")
            try h.expectProblem(try await h.request(.get, "/logs/\(jobID)?follow=true"), status: .unprocessableContent, code: "unknown_parameter", field: "follow")
            let lines = (1...300).map { "line \($0)\n" }
            try await h.store.appendLogs(lines.map { NewLogChunk(executionID: id, attempt: 1, stream: .stdout, bytes: Array($0.utf8)) })
            let long = try await h.request(.get, "/logs/\(jobID)").json()
            #expect(long["truncated"] == true)
            let text = try #require(long["logs"]?.stringValue)
            #expect(text.utf8.count <= 1024 && text.hasSuffix("line 300\n") && text.hasPrefix("line "), "\(text.prefix(40))")
            #expect(lines.joined().hasSuffix(text))

            try await h.store.recordReport(ExecutionReport(executionID: id, kind: .result, attempt: 1, source: .file, body: ["answer": 42], at: at))
            _ = try await h.store.transition(id, from: .running, to: .succeeded, reason: "exited with code 0", changes: TransitionChanges(exitCode: 0))
            status = try await h.request(.get, "/status/\(jobID)").json()
            #expect(status == ["job_id": .string(jobID), "status": "completed", "state": "succeeded", "exit_code": 0, "error": nil])
            #expect(try await h.request(.get, "/result/\(jobID)").json() == ["job_id": .string(jobID), "status": "completed", "result": ["answer": 42]])
            let stopFinished = try await h.request(.post, "/stop/\(jobID)")
            try h.expectProblem(stopFinished, status: .conflict, code: "job_finished")

            let info = try await h.request(.get, "/job-info/\(jobID)").json()
            #expect(info["status"] == "completed")
            #expect(info["state"] == "succeeded")
            #expect(info["image"] == "berth/sim:1")
            #expect(info["owner"] == "admin")
            #expect(info["host"] == "sim")
            #expect(info["config"] == ["steps": 2])
            #expect(info["config_path"] == .null)
            #expect(info["attempts"] == 1)
            #expect(info["exit_code"] == 0)
            #expect(info["started_at"]?.stringValue != nil && info["finished_at"]?.stringValue != nil)

            // A second job, stopped while queued; then /jobs lists both jobs (not the /v1 one), newest first.
            let second = try #require(try await h.request(.post, "/run-simulation", json: ["config": [:]]).json()["job_id"]?.stringValue)
            let stopped = try await h.request(.post, "/stop/\(second)").json()
            #expect(stopped == ["job_id": .string(second), "status": "stopped", "message": "job stopped"])
            #expect(try await h.request(.get, "/status/\(second)").json()["status"] == "stopped")
            let jobs = try await h.request(.get, "/jobs").json()
            #expect(jobs["count"] == 2)
            #expect(jobs["jobs"]?.arrayValue?.compactMap { $0["job_id"]?.stringValue } == [second, jobID])
            #expect(jobs["jobs"]?.arrayValue?.last?["status"] == "completed")
            #expect(try await h.request(.get, "/jobs?status=stopped").json()["jobs"]?.arrayValue?.compactMap { $0["job_id"]?.stringValue } == [second])
            #expect(try await h.request(.get, "/jobs?limit=1").json()["count"] == 1)
            try h.expectProblem(try await h.request(.get, "/jobs?status=done"), status: .unprocessableContent, code: "invalid_field", field: "status")
            try h.expectProblem(try await h.request(.get, "/jobs?limit=0"), status: .unprocessableContent, code: "out_of_range", field: "limit")
            #expect(try await h.request(.get, "/status/\(other.uuidString)").json()["status"] == "queued")
            try h.expectProblem(try await h.request(.get, "/status/nope"), status: .notFound, code: "execution_not_found")
            try h.expectProblem(try await h.request(.get, "/job-info/\(UUID())"), status: .notFound, code: "execution_not_found")
        }
    }

    @Test("a submitter sees and stops only its own jobs; a viewer cannot start or stop one")
    func roles() async throws {
        try await ServerHarness.run(configuration: Self.configuration(folder: nil)) { h in
            let alice = try await h.makeToken(.submitter, owner: "alice")
            let bob = try await h.makeToken(.submitter, owner: "bob")
            let viewer = try await h.makeToken(.viewer, owner: "carol")
            let job = try #require(try await h.request(.post, "/run-simulation", json: ["config": [:]], as: .token(alice)).json()["job_id"]?.stringValue)
            #expect(try await h.request(.get, "/jobs", as: .token(alice)).json()["count"] == 1)
            #expect(try await h.request(.get, "/jobs", as: .token(bob)).json()["count"] == 0)
            #expect(try await h.request(.get, "/jobs", as: .token(viewer)).json()["count"] == 1)
            for path in ["/status/\(job)", "/job-info/\(job)", "/logs/\(job)"] {
                try h.expectProblem(try await h.request(.get, path, as: .token(bob)), status: .notFound, code: "execution_not_found")
            }
            try h.expectProblem(try await h.request(.post, "/stop/\(job)", as: .token(bob)), status: .notFound, code: "execution_not_found")
            try h.expectProblem(try await h.request(.post, "/stop/\(job)", as: .token(viewer)), status: .forbidden, code: "forbidden")
            try h.expectProblem(try await h.request(.post, "/run-simulation", json: ["config": [:]], as: .token(viewer)), status: .forbidden, code: "forbidden")
            #expect(try await h.request(.post, "/stop/\(job)", as: .token(alice)).json()["status"] == "stopped")
        }
    }
}
