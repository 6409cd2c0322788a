import BerthCore
import BerthPluginKit
@testable import BerthServer
import BerthTestSupport
import HTTPTypes
import HummingbirdTesting
import Testing

extension ServerTests {
    @Test("host_selector: stored and shown, not with target_host, the default host not applied, every matching host's policy kept")
    func hostSelectorSubmissions() async throws {
        var configuration = ServerConfiguration(defaultHost: "sim")
        configuration.hostLabels = ["sim": ["gpu": "false"], "big": ["gpu": "true"], "small": ["gpu": "true", "zone": "1"]]
        configuration.policies = ["small": HostPolicy(images: ["allowed/*"])]
        try await ServerHarness.run(configuration: configuration) { h in
            let created = try await h.request(.post, "/v1/executions", json: ["image": "allowed/x", "host_selector": ["gpu": "true"]])
            #expect(created.status == .created, "\(created.text)")
            let execution = try created.json()
            #expect(execution["host_selector"] == ["gpu": "true"] && execution["target_host"] == .null, "\(created.text)")
            try h.expectProblem(
                try await h.request(.post, "/v1/executions", json: ["image": "x", "target_host": "sim", "host_selector": ["gpu": "true"]]),
                status: .unprocessableContent, code: "conflicting_fields", field: "host_selector")
            // "small" matches gpu=true and allows only allowed/*: the selector may land there.
            try h.expectProblem(
                try await h.request(.post, "/v1/executions", json: ["image": "other/x", "host_selector": ["gpu": "true"]]),
                status: .forbidden, code: "policy_violation")
            #expect(try await h.request(.post, "/v1/executions", json: ["image": "other/x", "host_selector": ["gpu": "false"]]).status == .created)

            // A template may select hosts; a run may name a host instead.
            _ = try await h.request(.post, "/v1/templates", json: ["name": "gpu-job", "spec": ["image": "allowed/job", "host_selector": ["gpu": "true"]]])
            let selected = try await h.request(.post, "/v1/executions", json: ["template": "gpu-job"]).json()
            #expect(selected["host_selector"] == ["gpu": "true"] && selected["target_host"] == .null)
            let named = try await h.request(.post, "/v1/executions", json: ["template": "gpu-job", "target_host": "sim"])
            #expect(named.status == .created, "\(named.text)")
            #expect(try named.json()["target_host"] == "sim" && named.json()["host_selector"] == [:])
        }
    }
}
