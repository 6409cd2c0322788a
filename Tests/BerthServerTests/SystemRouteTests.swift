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
import Synchronization
import Testing

extension ServerTests {
    @Test func hostsListsHealthCapacityAndLoadErrors() async throws {
        let hosts = [
            TargetHostConfiguration(name: "sim", plugin: "simulated"),
            TargetHostConfiguration(name: "ghost", plugin: "no-such-plugin"),
        ]
        try await ServerHarness.run(hosts: hosts) { h in
            let response = try await h.request(.get, "/v1/hosts")
            #expect(response.status == .ok)
            let items = try #require(try response.json()["items"]?.arrayValue)
            #expect(items.count == 2)
            let sim = try #require(items.first { $0["name"] == "sim" })
            #expect(sim["plugin"] == "simulated")
            #expect(sim["health"]?["ok"] == true)
            #expect(sim["health"]?["message"]?.stringValue != nil)
            #expect(sim["capacity"]?["max_concurrent"]?.int64Value != nil)
            #expect(sim["capacity"]?["running"] == 0)
            #expect(sim["error"] == .null)
            let ghost = try #require(items.first { $0["name"] == "ghost" })
            #expect(ghost["plugin"] == "no-such-plugin")
            #expect(ghost["health"]?["ok"] == false)
            #expect(ghost["capacity"] == .null)
            #expect(ghost["error"]?["code"] == "unknown_plugin")
            #expect(ghost["error"]?["message"]?.stringValue?.contains("no-such-plugin") == true)
            // A configured host that failed to open may still be named by a submission.
            #expect(try await h.request(.post, "/v1/executions", json: ["image": "x", "target_host": "ghost"]).status == .created)
        }
    }

    @Test func hostCallsAreBoundedByATimeout() async throws {
        let release = Atomic<Bool>(false)
        let finished = Atomic<Bool>(false)
        let value = await SystemStatus.withTimeout(.milliseconds(100)) { () async -> Int in
            // Ignores cancellation on purpose, and runs until the test releases it (30 s at most).
            let until = ContinuousClock.now + .seconds(30)
            while !release.load(ordering: .relaxed), ContinuousClock.now < until {
                try? await Task.sleep(for: .milliseconds(20))
            }
            finished.store(true, ordering: .relaxed)
            return 1
        }
        #expect(value == nil)
        // The timeout answered while the operation was still running: it was not waited for.
        #expect(finished.load(ordering: .relaxed) == false)
        release.store(true, ordering: .relaxed)
        #expect(await SystemStatus.withTimeout(.seconds(2)) { 7 } == 7)
    }

    @Test func pluginsListsEveryFile() async throws {
        try await ServerHarness.run { h in
            let response = try await h.request(.get, "/v1/plugins")
            #expect(response.status == .ok)
            let items = try #require(try response.json()["items"]?.arrayValue)
            let simulated = try #require(items.first { $0["name"] == "simulated" })
            #expect(simulated["loaded"] == true)
            #expect(simulated["abi_version"] == 1)
            #expect(simulated["version"]?.stringValue?.isEmpty == false)
            #expect(simulated["file"]?.stringValue?.hasSuffix("libBerthSimulated.so") == true)
            #expect(simulated["error"] == .null)
            for item in items {
                #expect(item["loaded"]?.boolValue != nil)
                if item["loaded"] == false { #expect(item["error"]?.stringValue != nil) }
            }
        }
    }

    @Test func healthAndReadiness() async throws {
        try await ServerHarness.run { h in
            let health = try await h.request(.get, "/healthz")
            #expect(health.status == .ok)
            #expect(try health.json()["status"] == "alive")
            let ready = try await h.request(.get, "/readyz")
            #expect(ready.status == .ok)
            #expect(try ready.json()["status"] == "ready")
        }
        try await ServerHarness.run(startPlugins: false) { h in
            #expect(try await h.request(.get, "/healthz").status == .ok)
            try h.expectProblem(try await h.request(.get, "/readyz"), status: .serviceUnavailable, code: "not_ready")
        }
    }

    @Test func readinessFailsWhenTheDatabaseIsGone() async throws {
        try await ServerHarness.run { h in
            await h.store.shutdown()
            let response = try await h.request(.get, "/readyz")
            try h.expectProblem(response, status: .serviceUnavailable, code: "not_ready")
            #expect(try await h.request(.get, "/healthz").status == .ok)
        }
    }

    @Test func openAPIDocumentDescribesExactlyTheRegisteredRoutes() async throws {
        try await ServerHarness.run { h in
            let response = try await h.request(.get, "/openapi.json")
            #expect(response.status == .ok)
            let document = try response.json()
            #expect(document["openapi"] == "3.1.0")
            #expect(document["info"]?["title"] == "Berth")
            let paths = try #require(document["paths"]?.objectValue)
            var documented: Set<String> = []
            let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options"]
            for (path, item) in paths {
                for (method, operation) in try #require(item.objectValue) where methods.contains(method) {
                    documented.insert("\(method.uppercased()) \(path)")
                    let responses = try #require(operation["responses"]?.objectValue, "\(method) \(path)")
                    #expect(!responses.isEmpty)
                    #expect(operation["operationId"]?.stringValue != nil)
                    if path.contains("{id}") {
                        let parameters = try #require(operation["parameters"]?.arrayValue)
                        #expect(parameters.contains { $0["name"] == "id" && $0["in"] == "path" && $0["required"] == true })
                    }
                }
            }
            // Every $ref points at a schema that exists.
            let schemas = try #require(document["components"]?["schemas"]?.objectValue)
            func refs(_ value: JSONValue) -> [String] {
                switch value {
                case .object(let members): members.flatMap { key, member in key == "$ref" ? [member.stringValue ?? ""] : refs(member) }
                case .array(let elements): elements.flatMap(refs)
                default: []
                }
            }
            for ref in refs(document) {
                #expect(ref.hasPrefix("#/components/schemas/"))
                #expect(schemas[String(ref.dropFirst("#/components/schemas/".count))] != nil, "\(ref)")
            }

            let router = buildRouter(configuration: h.configuration, context: ServerContext(
                store: h.store, plugins: h.plugins, control: StoreCancellingControl(store: h.store)))
            // The dashboard's static files are the only routes besides the API's (docs/dashboard.md).
            let dashboard = Set(DashboardAsset.byPath.keys.flatMap { ["GET \($0)", "HEAD \($0)"] })
            let all = Set(router.routes.map { "\($0.method.rawValue) \($0.path.description)" })
            #expect(dashboard.isSubset(of: all))
            let registered = all.subtracting(dashboard)
            #expect(registered == documented)
            #expect(registered.count == APIRoute.all.count)

            // Every registered route answers its method with something other than 404.
            let id = try h.id(of: try await h.submit(["image": "x"])).uuidString.lowercased()
            let tokenID = try await Harness.makeToken(h.store, .viewer, owner: "v").id.uuidString.lowercased()
            // An event stream never ends; EventStreamTests reads it.
            _ = try await h.request(.post, "/v1/templates", json: ["name": "route-check", "spec": ["image": "x"]])
            _ = try await h.request(.post, "/v1/schedules", json: ["name": "route-check", "cron": "@daily", "template": "route-check"])
            // Deletions last, so that what they delete was there for the other routes.
            let routes = router.routes.filter { $0.method != .delete } + router.routes.filter { $0.method == .delete }
            for route in routes where route.path.description != "/v1/events" {
                let path = route.path.description
                let target = path.hasPrefix("/v1/tokens") ? tokenID
                    : path.hasPrefix("/v1/templates") ? "route-check@1" : path.hasPrefix("/v1/schedules") ? "route-check" : id
                let concrete = path.replacingOccurrences(of: "{id}", with: target)
                let body: ByteBuffer? = switch (route.method, path) {
                case (.post, "/v1/executions"): ByteBuffer(string: #"{"image":"x"}"#)
                case (.post, "/v1/templates"): ByteBuffer(string: #"{"name":"route-check","spec":{"image":"x"}}"#)
                case (.post, "/v1/schedules"): ByteBuffer(string: #"{"name":"route-check-2","cron":"@daily","template":"route-check"}"#)
                default: nil
                }
                let answer = try await h.client.execute(
                    uri: concrete, method: route.method, headers: [.authorization: "Bearer \(h.adminToken)"], body: body)
                // 404 only as the route's own answer (no progress or result yet), never "no route".
                let ownAnswer = answer.status == .notFound ? try answer.json()["code"]?.stringValue?.hasPrefix("no_") == true : true
                #expect(ownAnswer, "\(route): \(answer.status)")
                #expect(answer.status.code < 500, "\(route): \(answer.status)")
            }
        }
    }
}
