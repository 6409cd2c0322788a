import BerthClient
import BerthPluginKit
import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `berth serve` with an embedded PostgreSQL, the test Docker engine and the second engine over
/// the test sshd, driven by `berth run` as a user would: separate processes, real sockets.
@Suite("berth serve and berth run", .serialized, .sshd)
struct EndToEndTests {
    @Test func runExitsWithTheContainersCodeAndServerStopsCleanly() async throws {
        let socket = try TestEnvironment.dockerSocket()
        let folder = try temporaryFolder("berth-e2e")
        defer { try? FileManager.default.removeItem(at: folder) }
        let port = try freePort()
        let configFile = folder.appendingPathComponent("berth.yaml")
        try """
            listen: {host: 127.0.0.1, port: \(port)}
            database: {url: null}
            data_dir: \(folder.path)/data
            server_id: berth-e2e-\(port)
            default_host: local
            log_level: info
            log: {format: json}
            hosts:
              - name: local
                plugin: docker
                settings: {socket_path: \(socket), pull_policy: if_not_present}
              - name: remote
                plugin: docker-ssh
                settings:
            \(try remoteDockerSettingsYAML())
            """.write(to: configFile, atomically: true, encoding: .utf8)

        var server = try Subprocess(Subprocess.berth, ["serve", "--config", configFile.path])
        var stopped = false
        defer {
            if !stopped {
                server.signal(SIGKILL)
                // Leave no cluster behind when the test failed half-way.
                let pgctl = ["/usr/lib/postgresql"].flatMap { (try? FileManager.default.contentsOfDirectory(atPath: $0))?.map { "/usr/lib/postgresql/\($0)/bin/pg_ctl" } ?? [] }.first
                if let pgctl {
                    _ = try? Subprocess("/usr/sbin/runuser", ["-u", "postgres", "--", pgctl, "-D", "\(folder.path)/data/postgres/data", "-m", "immediate", "stop"])
                }
            }
        }
        let url = "http://127.0.0.1:\(port)"
        // The CLI finds the first admin token that serve wrote in data_dir through BERTH_CONFIG.
        let env = ["BERTH_URL": url, "BERTH_CONFIG": configFile.path]
        let client = BerthClient(baseURL: url)
        func waitUntilReady(_ server: Subprocess) async throws {
            var ready = false
            for _ in 0..<600 {
                if await client.isReady() { ready = true; break }
                if !server.process.isRunning { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            try #require(ready, "server not ready; stderr:\n\(server.stderr)")
        }
        try await waitUntilReady(server)

        let run = try await Subprocess.berth(
            ["run", TestEnvironment.localImage, "sh", "-c", "echo hello; echo oops >&2; exit 3"],
            environment: env, timeout: 120)
        #expect(run.stdout == "hello\n", "stderr: \(run.stderr)")
        #expect(run.stderr == "oops\n")
        #expect(run.status == 3)

        let remote = try await Subprocess.berth(
            ["run", "--host", "remote", TestEnvironment.localImage, "sh", "-c", "echo over-ssh; exit 4"],
            environment: env, timeout: 120)
        #expect(remote.stdout == "over-ssh\n", "stderr: \(remote.stderr)")
        #expect(remote.status == 4)

        let ok = try await Subprocess.berth(["run", "--name", "e2e-ok", TestEnvironment.localImage, "true"], environment: env, timeout: 120)
        #expect(ok.status == 0, "\(ok.stderr)")

        // On a terminal (a pseudo-terminal from script(1)): the status line with its progress
        // bar takes the place of the progress lines, in colour unless NO_COLOR is set.
        let ttyScript = #"echo start; echo '::berth::progress {"step": 1, "of": 2, "stage": "half"}'; sleep 2; echo done"#
        let onTerminal = try await Subprocess(
            "/usr/bin/script", ["-qfec", "\(Subprocess.berth) run \(TestEnvironment.localImage) sh -c \"\(ttyScript.replacing("\"", with: "\\\""))\"", "/dev/null"],
            // swift test sets NO_COLOR=1 for its children; empty means unset (no-color.org).
            environment: env.merging(["TERM": "xterm", "NO_COLOR": ""]) { $1 }
        ).wait(timeout: 120)
        #expect(onTerminal.status == 0, "\(onTerminal.stdout)")
        for expected in ["start\r\n", "done\r\n", "50%", "1/2 · half", "\u{1B}[32msucceeded\u{1B}[0m"] {
            #expect(onTerminal.stdout.contains(expected), "missing \(expected.debugDescription) in \(onTerminal.stdout.debugDescription)")
        }
        #expect(!onTerminal.stdout.contains("::berth::progress"))
        let newest = try await Subprocess.berth(["ps", "--all", "--json", "-n", "1"], environment: env)
        let ttyID = try #require(try JSONValue(parsing: newest.stdout).arrayValue?.first?["id"]?.stringValue)
        let plainTerminal = try await Subprocess(
            "/usr/bin/script", ["-qfec", "\(Subprocess.berth) logs -f \(ttyID)", "/dev/null"],
            environment: env.merging(["TERM": "xterm", "NO_COLOR": "1"]) { $1 }
        ).wait(timeout: 60)
        #expect(plainTerminal.stdout.contains("50%") && plainTerminal.stdout.contains("done\r\n"), "\(plainTerminal.stdout.debugDescription)")
        #expect(!plainTerminal.stdout.contains("\u{1B}[3"), "no colour with NO_COLOR")
        // Not on a terminal, the output is exactly what the execution wrote.
        let piped = try await Subprocess.berth(["logs", ttyID], environment: env)
        #expect(piped.stdout == "start\n::berth::progress {\"step\": 1, \"of\": 2, \"stage\": \"half\"}\ndone\n")

        // berth result and berth progress print what the execution reported.
        let reporting = try await Subprocess.berth(
            ["submit", "--name", "e2e-report", TestEnvironment.localImage, "sh", "-c",
             #"echo '::berth::progress {"pct": 100}'; echo '::berth::result {"answer": 42}'"#],
            environment: env)
        let reportingID = reporting.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(reporting.status == 0, "\(reporting.stderr)")
        _ = try await Subprocess.berth(["logs", "-f", reportingID], environment: env, timeout: 120)
        let result = try await Subprocess.berth(["result", reportingID], environment: env)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try JSONValue(parsing: result.stdout) == ["answer": 42])
        let progress = try await Subprocess.berth(["progress", "--json", reportingID], environment: env)
        #expect(try JSONValue(parsing: progress.stdout)["progress"] == ["pct": 100])
        // --config-file (YAML) is in the container as JSON; berth artifacts brings /berth/out back.
        let configYAML = folder.appendingPathComponent("config.yaml")
        try "steps: 3\nname: demo\n".write(to: configYAML, atomically: true, encoding: .utf8)
        let withConfig = try await Subprocess.berth(
            ["submit", "--config-file", configYAML.path, TestEnvironment.localImage, "sh", "-c",
             #"mkdir -p /berth/out && cp /berth/in/config.json /berth/out/seen.json && echo '{"ok": true}' > /berth/out/result.json"#],
            environment: env)
        let withConfigID = withConfig.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(withConfig.status == 0, "\(withConfig.stderr)")
        _ = try await Subprocess.berth(["logs", "-f", withConfigID], environment: env, timeout: 120)
        let tarFile = folder.appendingPathComponent("outputs.tar").path
        let downloaded = try await Subprocess.berth(["artifacts", withConfigID, "-o", tarFile], environment: env)
        #expect(downloaded.status == 0, "\(downloaded.stderr)")
        let seen = try await Subprocess("/usr/bin/tar", ["-xOf", tarFile, "out/seen.json"]).wait(timeout: 30)
        #expect(try JSONValue(parsing: seen.stdout) == ["steps": 3, "name": "demo"], "\(seen.stderr)")
        #expect(try JSONValue(parsing: try await Subprocess.berth(["result", withConfigID], environment: env).stdout) == ["ok": true])
        let badConfig = try await Subprocess.berth(["submit", "--config-file", "/nonexistent.yaml", TestEnvironment.localImage], environment: env)
        #expect(badConfig.status != 0 && badConfig.stderr.contains("cannot read --config-file"), "\(badConfig.stderr)")

        let silent = try await Subprocess.berth(["submit", TestEnvironment.localImage, "true"], environment: env)
        let silentID = silent.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try await Subprocess.berth(["logs", "-f", silentID], environment: env, timeout: 120)
        let none = try await Subprocess.berth(["result", silentID], environment: env)
        #expect(none.status != 0)
        #expect(none.stderr.contains("without a result"), "\(none.stderr)")

        let ps = try await Subprocess.berth(["ps", "--all"], environment: env)
        #expect(ps.status == 0)
        let rows = ps.stdout.split(separator: "\n").map(String.init)
        #expect(rows.first?.hasPrefix("ID ") == true)
        #expect(rows.contains { $0.contains("e2e-ok") && $0.contains("succeeded") })
        #expect(rows.contains { $0.contains("failed (3)") })

        let hosts = try await Subprocess.berth(["hosts", "--json"], environment: env)
        #expect(hosts.status == 0)
        #expect(hosts.stdout.contains("\"local\""))
        #expect(hosts.stdout.contains("\"remote\""))
        #expect(hosts.stdout.contains("docker-ssh"))

        // The first start wrote one admin token, readable by its owner only, and said where.
        let tokenFile = folder.path + "/data/admin.token"
        let mode = try FileManager.default.attributesOfItem(atPath: tokenFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let webhookSecret = try FileManager.default.attributesOfItem(atPath: folder.path + "/data/webhook.secret")
        #expect(webhookSecret[.posixPermissions] as? Int == 0o600, "the webhook secret is made 0600 on first start")
        #expect(server.stdout.contains("Created the first admin token; it is in \(tokenFile) (mode 0600)"))
        #expect(!server.stderr.contains(try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .newlines)))
        // berth token: a submitter sees only its own executions; a revoked token is refused at once.
        let created = try await Subprocess.berth(["token", "create", "ci", "--role", "submitter"], environment: env)
        #expect(created.status == 0, "\(created.stderr)")
        let secret = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(secret.hasPrefix("berth_"))
        var asCI = env
        asCI["BERTH_TOKEN"] = secret
        let own = try await Subprocess.berth(["run", "--name", "ci-own", TestEnvironment.localImage, "true"], environment: asCI, timeout: 120)
        #expect(own.status == 0, "\(own.stderr)")
        let ciPs = try await Subprocess.berth(["ps", "--all"], environment: asCI)
        #expect(ciPs.stdout.contains("ci-own") && !ciPs.stdout.contains("e2e-ok"), "\(ciPs.stdout)")
        let listed = try await Subprocess.berth(["token", "list"], environment: env)
        #expect(listed.stdout.contains("initial-admin") && listed.stdout.contains("ci") && !listed.stdout.contains(secret))
        let forbidden = try await Subprocess.berth(["token", "list"], environment: asCI)
        #expect(forbidden.status == 1)
        #expect(forbidden.stderr.contains("(forbidden)"), "\(forbidden.stderr)")
        let ciID = try #require(listed.stdout.split(separator: "\n").first { $0.contains(" ci ") }?.split(separator: " ").first)
        #expect(try await Subprocess.berth(["token", "revoke", String(ciID)], environment: env).status == 0)
        let refused = try await Subprocess.berth(["ps"], environment: asCI)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("the token was revoked"), "\(refused.stderr)")

        let detached = try await Subprocess.berth(
            ["run", "--detach", TestEnvironment.localImage, "sh", "-c", "echo a; sleep 1; echo b >&2; echo c"],
            environment: env)
        #expect(detached.status == 0)
        let id = detached.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.count == 36)
        let logs = try await Subprocess.berth(["logs", "-f", String(id.prefix(8))], environment: env, timeout: 120)
        #expect(logs.status == 0, "\(logs.stderr)")
        #expect(logs.stdout == "a\nc\n")
        #expect(logs.stderr == "b\n")
        let show = try await Subprocess.berth(["show", id], environment: env)
        #expect(show.stdout.contains("state        succeeded"), "\(show.stdout)")
        let events = try await Subprocess.berth(["events", id], environment: env)
        #expect(events.status == 0)
        #expect(events.stdout.contains("running → succeeded"), "\(events.stdout)")

        // Ctrl-C on `berth run` cancels the execution, and berth exits 130 once it is cancelled.
        let sleeper = try Subprocess(Subprocess.berth, ["run", TestEnvironment.localImage, "sh", "-c", "echo started; sleep 60"], environment: env)
        for _ in 0..<600 where !sleeper.stdout.contains("started") {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(sleeper.stdout == "started\n")
        sleeper.signal(SIGINT)
        let cancelled = try await sleeper.wait(timeout: 60)
        #expect(cancelled.status == 130, "\(cancelled.stderr)")
        #expect(cancelled.stderr.contains("cancelling"))

        let missing = try await Subprocess.berth(["show", "00000000-0000-4000-8000-000000000000"], environment: env)
        #expect(missing.status == 1)
        #expect(missing.stderr.hasPrefix("berth: no execution has id"))
        #expect(missing.stderr.contains("(execution_not_found)"))

        // SIGTERM with an execution running: the server exits 0 and leaves the container; the
        // next server adopts it and records its true end with all its output.
        let survivor = try await Subprocess.berth(
            ["run", "--detach", TestEnvironment.localImage, "sh", "-c", "echo before; sleep 5; echo after; exit 6"],
            environment: env)
        let survivorID = survivor.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        for _ in 0..<300 {
            let logs = try await Subprocess.berth(["logs", survivorID], environment: env)
            if logs.stdout == "before\n" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        server.signal(SIGTERM)
        let end = try await server.wait(timeout: 90)
        #expect(end.status == 0, "stderr:\n\(end.stderr)")
        #expect(end.stdout.contains("Berth is serving on \(url)"))
        server = try Subprocess(Subprocess.berth, ["serve", "--config", configFile.path])
        try await waitUntilReady(server)
        let adopted = try await Subprocess.berth(["logs", "-f", survivorID], environment: env, timeout: 120)
        #expect(adopted.stdout == "before\nafter\n", "\(adopted.stderr)")
        let shown = try await Subprocess.berth(["show", survivorID], environment: env)
        #expect(shown.stdout.contains("failed"), "\(shown.stdout)")
        #expect(shown.stdout.contains("6"), "\(shown.stdout)")

        server.signal(SIGTERM)
        let last = try await server.wait(timeout: 90)
        stopped = true
        #expect(last.status == 0, "stderr:\n\(last.stderr)")
        // `log: {format: json}`: every log line is a JSON object, its metadata as fields.
        let lines = last.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }.map { try? JSONValue(parsing: Array($0.utf8)) }
        #expect(!lines.isEmpty && lines.allSatisfy { $0?["time"]?.stringValue != nil && $0?["level"]?.stringValue != nil && $0?["message"] != nil })
        let adoption = lines.compactMap { $0 }.first { $0["message"] == "adopted an attempt" }
        #expect(adoption?["execution"]?.stringValue?.lowercased() == survivorID.lowercased(), "the second server adopted the running attempt")
        #expect(adoption?["label"] == "berth.supervisor")
        #expect(adoption?["level"] == "notice")
    }
}

/// `berth serve` over HTTPS, and the CLI trusting its certificate with `--ca-file`.
@Suite("berth serve over TLS")
struct TLSEndToEndTests {
    @Test func servesHTTPSAndTheCLITrustsTheGivenCertificate() async throws {
        let folder = try temporaryFolder("berth-tls")
        defer { try? FileManager.default.removeItem(at: folder) }
        let (certificate, key) = try TestCertificate.make(in: folder)
        let port = try freePort()
        let configFile = folder.appendingPathComponent("berth.yaml")
        try """
            listen: {host: 127.0.0.1, port: \(port), tls: {certificate_file: \(certificate), key_file: \(key)}}
            database: {url: null}
            data_dir: \(folder.path)/data
            hosts: []
            """.write(to: configFile, atomically: true, encoding: .utf8)
        let server = try Subprocess(Subprocess.berth, ["serve", "--config", configFile.path])
        defer { server.signal(SIGKILL) }
        let url = "https://127.0.0.1:\(port)"
        for _ in 0..<600 where !server.stdout.contains("Berth is serving on \(url)") && server.process.isRunning {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(server.stdout.contains("Berth is serving on \(url)"), "\(server.stdout)\n\(server.stderr)")
        let env = ["BERTH_URL": url, "BERTH_CONFIG": configFile.path]
        let trusted = try await Subprocess.berth(["ps", "--ca-file", certificate], environment: env)
        #expect(trusted.status == 0, "\(trusted.stderr)")
        var viaEnvironment = env
        viaEnvironment["BERTH_CA_FILE"] = certificate
        #expect(try await Subprocess.berth(["hosts"], environment: viaEnvironment).status == 0)
        let untrusted = try await Subprocess.berth(["ps"], environment: env)
        #expect(untrusted.status != 0)
        server.signal(SIGTERM)
        #expect(try await server.wait(timeout: 60).status == 0)
    }
}
