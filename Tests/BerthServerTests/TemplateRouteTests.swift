import BerthCore
import BerthPluginKit
import BerthPostgres
@testable import BerthServer
import BerthTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

extension ServerTests {
    static let solver: JSONValue = [
        "name": "solver",
        "description": "Solves things",
        "spec": ["image": "registry.local/solver:3", "command": ["python", "-m", "solver"], "env": ["MODE": "fast"],
                 "labels": ["team": "ml"], "cpus": 2, "timeout_seconds": 600, "max_attempts": 2],
        "parameters_schema": [
            "type": "object", "required": ["steps"], "additionalProperties": false,
            "properties": ["steps": ["type": "integer", "minimum": 1], "mode": ["type": "string", "enum": ["a", "b"]], "tags": ["type": "array"]],
        ],
    ]

    @Test("templates: each registration is the next version; name@latest skips deprecated ones; versions never change")
    func templateVersions() async throws {
        try await ServerHarness.run { h in
            let first = try await h.request(.post, "/v1/templates", json: Self.solver)
            #expect(first.status == .created, "\(first.text)")
            #expect(try first.json()["version"] == 1 && first.json()["ref"] == "solver@1")
            var second = Self.solver
            second = .object((second.objectValue ?? [:]).merging(["description": "Faster"]) { $1 })
            #expect(try await h.request(.post, "/v1/templates", json: second).json()["version"] == 2)
            #expect(try await h.request(.get, "/v1/templates/solver@latest").json()["version"] == 2)
            #expect(try await h.request(.get, "/v1/templates/solver").json()["version"] == 2)
            #expect(try await h.request(.get, "/v1/templates/solver@1").json()["description"] == "Solves things")

            let deprecated = try await h.request(.post, "/v1/templates/solver@2/deprecate", json: ["reason": "wrong results"])
            #expect(deprecated.status == .ok, "\(deprecated.text)")
            #expect(try deprecated.json()["deprecation_reason"] == "wrong results")
            #expect(try await h.request(.get, "/v1/templates/solver@latest").json()["version"] == 1)
            #expect(try await h.request(.get, "/v1/templates/solver@2").json()["deprecated_at"]?.stringValue != nil)
            let listed = try await h.request(.get, "/v1/templates?name=solver").json()
            #expect(listed["items"]?.arrayValue?.compactMap { $0["version"]?.int64Value } == [2, 1])

            try h.expectProblem(try await h.request(.get, "/v1/templates/nothing@1"), status: .notFound, code: "template_not_found")
            try h.expectProblem(try await h.request(.post, "/v1/templates/solver/deprecate", json: [:]), status: .notFound, code: "template_not_found")
            // A viewer reads but does not register; a submitter deprecates only its own.
            let viewer = try await Harness.makeToken(h.store, .viewer, owner: "v").text
            try h.expectProblem(try await h.request(.post, "/v1/templates", json: Self.solver, as: .token(viewer)), status: .forbidden, code: "forbidden")
            #expect(try await h.request(.get, "/v1/templates/solver@1", as: .token(viewer)).status == .ok)
            let submitter = try await Harness.makeToken(h.store, .submitter, owner: "s").text
            try h.expectProblem(
                try await h.request(.post, "/v1/templates/solver@1/deprecate", json: [:], as: .token(submitter)), status: .forbidden, code: "forbidden")
        }
    }

    @Test("templates: five registrations at once get versions 1 to 5")
    func templateVersionsConcurrently() async throws {
        try await ServerHarness.run { h in
            let versions = try await withThrowingTaskGroup(of: Int64.self) { group in
                for _ in 0..<5 {
                    group.addTask { try await h.request(.post, "/v1/templates", json: Self.solver).json()["version"]?.int64Value ?? 0 }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(versions.sorted() == [1, 2, 3, 4, 5])
        }
    }

    @Test("a bad template is refused naming the field, inside the spec too")
    func badTemplates() async throws {
        try await ServerHarness.run { h in
            func refused(_ change: [String: JSONValue], field: String, code: String = "invalid_field") async throws {
                let body = JSONValue.object((Self.solver.objectValue ?? [:]).merging(change) { $1 })
                try h.expectProblem(try await h.request(.post, "/v1/templates", json: body), status: .unprocessableContent, code: code, field: field)
            }
            try await refused(["name": "Solver@2"], field: "name")
            try await refused(["spec": ["image": ""]], field: "spec.image")
            try await refused(["spec": ["image": "x", "cpus": -1]], field: "spec.cpus", code: "out_of_range")
            try await refused(["spec": ["image": "x", "secret_env": ["A": "b"]]], field: "spec.secret_env", code: "unknown_field")
            try await refused(["spec": ["image": "x", "target_host": "nowhere"]], field: "target_host", code: "unknown_target_host")
            try await refused(["parameters_schema": [1]], field: "parameters_schema")
        }
    }

    @Test("a run of a template: its spec, the parameters checked, delivered as config and BERTH_PARAM_*, the template recorded")
    func templateRuns() async throws {
        try await ServerHarness.run { h in
            _ = try await h.request(.post, "/v1/templates", json: Self.solver)
            let run = try await h.request(.post, "/v1/executions", json: [
                "template": "solver@1", "parameters": ["steps": 3, "mode": "a", "tags": ["x", "y"]],
                "name": "nightly", "labels": ["run": "42"], "env": ["EXTRA": "1"],
            ])
            #expect(run.status == .created, "\(run.text)")
            let execution = try run.json()
            #expect(execution["image"] == "registry.local/solver:3" && execution["command"] == ["python", "-m", "solver"])
            #expect(execution["template"] == ["name": "solver", "version": 1])
            #expect(execution["config"] == ["steps": 3, "mode": "a", "tags": ["x", "y"]])
            #expect(execution["env"] == [
                "MODE": "fast", "EXTRA": "1", "BERTH_PARAM_STEPS": "3", "BERTH_PARAM_MODE": "a", "BERTH_PARAM_TAGS": #"["x","y"]"#,
            ])
            #expect(execution["labels"] == ["team": "ml", "run": "42"])
            #expect(execution["name"] == "nightly" && execution["cpus"] == 2 && execution["max_attempts"] == 2 && execution["timeout_seconds"] == 600)
            let stored = try #require(try await h.store.execution(id: try h.id(of: execution)))
            #expect(stored.template == TemplateReference(name: "solver", version: 1))

            func refused(_ body: JSONValue, status: HTTPResponse.Status = .unprocessableContent, code: String, field: String?) async throws {
                try h.expectProblem(try await h.request(.post, "/v1/executions", json: body), status: status, code: code, field: field)
            }
            try await refused(["template": "solver", "parameters": ["steps": "three"]], code: "invalid_parameters", field: "parameters.steps")
            try await refused(["template": "solver", "parameters": [:]], code: "invalid_parameters", field: "parameters.steps")
            try await refused(["template": "solver", "parameters": ["steps": 1, "mode": "c"]], code: "invalid_parameters", field: "parameters.mode")
            try await refused(["template": "solver", "parameters": ["steps": 1], "image": "other"], code: "template_field", field: "image")
            try await refused(["template": "missing@1"], status: .notFound, code: "template_not_found", field: "template")
            try await refused(["template": 3], code: "invalid_field", field: "template")
            try await refused(["image": "x", "parameters": ["a": 1]], code: "unknown_field", field: "parameters")
        }
    }
}
