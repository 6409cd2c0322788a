import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Schemathesis (from PyPI, installed by `scripts/install-deps.sh`) against a real `berth serve`
/// with its own embedded PostgreSQL and one Simulated host: every operation of `/openapi.json`
/// gets generated requests, valid and invalid, and every check must hold — no 5xx, every answer
/// matching the document (status, content type, headers, schema), schema-valid requests
/// accepted and invalid ones refused, `405` for methods a path does not take, no crash.
///
/// `BERTH_FUZZ_EXAMPLES` (default 25 per operation) and `BERTH_FUZZ_SEED` (default fixed, so a
/// failure here can be replayed) are set by `scripts/fuzz-api.sh` for longer runs.
@Suite("Schemathesis against berth serve")
struct APIFuzzTests {
    @Test("every operation holds to the OpenAPI document under generated input")
    func schemathesis() async throws {
        let st = try TestEnvironment.require("BERTH_TEST_SCHEMATHESIS")
        let environment = ProcessInfo.processInfo.environment
        let examples = environment["BERTH_FUZZ_EXAMPLES"].flatMap(Int.init) ?? 25
        let seed = environment["BERTH_FUZZ_SEED"].flatMap(Int.init) ?? 20_261_204

        let served = try await ServedBerth("berth-fuzz") { folder in
            try FileManager.default.createDirectory(at: folder.appendingPathComponent("configs"), withIntermediateDirectories: true)
            try "steps: 1\n".write(to: folder.appendingPathComponent("configs/run.yaml"), atomically: true, encoding: .utf8)
            return """
                default_host: sim
                hosts:
                  - {name: sim, plugin: simulated}
                job_service:
                  enabled: true
                  image: berth/sim:1
                  config_folder: \(folder.path)/configs
                """
        }
        let (folder, url, token, server) = (served.folder, served.url, served.token, served.process)

        // Every check runs (Schemathesis' default; `--checks all` would override this file), on
        // the job-service routes too. A new execution has no progress or result yet, and those
        // routes say so with a 404 (no_progress, no_result): the check that a created resource
        // is found at once does not apply to them. A `config_path` must name a file of the
        // config folder, which no schema can say: a generated one is refused (422
        // config_not_found), so "valid data is accepted" does not apply to /run-simulation. Nor
        // to POST /v1/executions: the stateful phase runs the templates it registered, whose
        // parameters must satisfy the parameters_schema stored with each template, which the
        // document cannot say either (422 invalid_parameters; TemplateRouteTests covers it).
        // Nor to POST /v1/schedules: a schedule names a stored template too, and its cron
        // expression (a grammar with ranges per field) and IANA time zone are checked by the
        // server, beyond what a schema pattern can say (ScheduleTests covers each refusal).
        let settings = folder.appendingPathComponent("schemathesis.toml")
        try """
            [[operations]]
            include-path-regex = "/(progress|result|artifacts)$|^/result/"
            checks.ensure_resource_availability.enabled = false

            [[operations]]
            include-path-regex = "^/run-simulation$"
            checks.positive_data_acceptance.enabled = false

            [[operations]]
            include-path-regex = "^/v1/executions$"
            include-method = "POST"
            checks.positive_data_acceptance.enabled = false

            [[operations]]
            include-path-regex = "^/v1/schedules$"
            include-method = "POST"
            checks.positive_data_acceptance.enabled = false
            """.write(to: settings, atomically: true, encoding: .utf8)
        // Revoking tokens is left out: it would revoke the token the run itself uses; so is the
        // event stream, which never ends (EventStreamTests and HostileInputTests cover it).
        let run = try Subprocess(st, [
            "--config-file", settings.path, "run", "\(url)/openapi.json", "--url", url, "--header", "Authorization: Bearer \(token)",
            "--max-examples", String(examples), "--seed", String(seed),
            "--exclude-path-regex", "revoke|/v1/events$", "--generation-database", "none", "--no-color",
        ], environment: ["HOME": folder.path], workingDirectory: folder)
        let result = try await run.wait(timeout: 600)
        let summary = result.stdout.split(separator: "\n").suffix(12).joined(separator: "\n")
        print("schemathesis (\(examples) examples per operation, seed \(seed)):\n\(summary)")
        #expect(result.status == 0, "Schemathesis found failures:\n\(result.stdout.suffix(20_000))\n\(result.stderr.suffix(4000))")
        #expect(result.stdout.contains("passed"), "\(result.stdout.suffix(4000))")
        #expect(server.process.isRunning, "berth serve died during the run:\n\(server.stderr.suffix(4000))")

        #expect(try await served.stop() == 0)
    }
}
