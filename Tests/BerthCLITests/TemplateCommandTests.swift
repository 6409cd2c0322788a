import BerthPluginKit
import BerthTestSupport
import Foundation
import Testing

/// `berth template create|list|show|deprecate|run` against a `berth serve` with a Simulated host.
@Suite("berth template")
struct TemplateCommandTests {
    @Test("register, list, show, run with parameters, refuse bad parameters, deprecate")
    func templateCommands() async throws {
        let served = try await ServedBerth("berth-templates") { _ in
            """
            default_host: sim
            hosts:
              - {name: sim, plugin: simulated}
            """
        }
        let env = ["BERTH_URL": served.url, "BERTH_TOKEN": served.token]
        let file = served.folder.appendingPathComponent("solver.yaml")
        try """
            name: sim-solver
            description: Prints two lines
            spec:
              image: sim/solver:1
              env: {SIM_SECONDS: "0.2", SIM_LINES: "2"}
            parameters_schema:
              type: object
              required: [steps]
              properties:
                steps: {type: integer, minimum: 1}
            """.write(to: file, atomically: true, encoding: .utf8)

        let created = try await Subprocess.berth(["template", "create", file.path], environment: env)
        #expect(created.status == 0 && created.stdout == "sim-solver@1\n", "\(created.stdout)\(created.stderr)")
        let listed = try await Subprocess.berth(["template", "list"], environment: env)
        #expect(listed.stdout.contains("sim-solver@1") && listed.stdout.contains("active"), "\(listed.stdout)")
        let shown = try await Subprocess.berth(["template", "show", "sim-solver@latest"], environment: env)
        #expect(try JSONValue(parsing: shown.stdout)["version"] == 1, "\(shown.stdout)\(shown.stderr)")

        let run = try await Subprocess.berth(["template", "run", "sim-solver", "-p", "steps=3", "--name", "tpl"], environment: env, timeout: 120)
        #expect(run.status == 0 && run.stdout == "line 1\nline 2\n", "\(run.stdout)\(run.stderr)")
        let newest = try await Subprocess.berth(["ps", "--all", "--json", "-n", "1"], environment: env)
        let execution = try #require(try JSONValue(parsing: newest.stdout).arrayValue?.first)
        #expect(execution["template"] == ["name": "sim-solver", "version": 1] && execution["config"] == ["steps": 3], "\(newest.stdout)")
        #expect(execution["env"]?["BERTH_PARAM_STEPS"] == "3")

        let bad = try await Subprocess.berth(["template", "run", "sim-solver", "-p", "steps=many"], environment: env)
        #expect(bad.status == 1 && bad.stderr.contains("parameters.steps"), "\(bad.stderr)")

        let deprecated = try await Subprocess.berth(["template", "deprecate", "sim-solver@1", "--reason", "superseded"], environment: env)
        #expect(deprecated.stdout == "sim-solver@1 deprecated\n", "\(deprecated.stdout)\(deprecated.stderr)")
        let gone = try await Subprocess.berth(["template", "show", "sim-solver"], environment: env)
        #expect(gone.status == 1 && gone.stderr.contains("template_not_found") || gone.stderr.contains("no template"), "\(gone.stderr)")
        #expect(try await Subprocess.berth(["template", "show", "sim-solver@1"], environment: env).status == 0)
        #expect(try await served.stop() == 0)
    }
}
