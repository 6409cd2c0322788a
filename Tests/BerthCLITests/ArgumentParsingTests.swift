// Parsing tests against the command types themselves (`Berth.parseAsRoot`); the `berth`
// executable target is a dependency of this test target for that.
@testable import berth
import ArgumentParser
import BerthClient
import BerthPluginKit
import Foundation
import Testing

@Suite("berth argument parsing")
struct ArgumentParsingTests {
    @Test func runTakesEverythingAfterTheImageAsTheCommand() throws {
        let command = try Berth.parseAsRoot([
            "run", "--host", "gpu", "-e", "A=1", "--env", "B=x=y", "--name", "n", "--label", "team=ml",
            "--cpus", "0.5", "--memory-mb", "256", "--timeout", "60", "--priority", "7", "--detach",
            "--max-attempts", "3", "--retry-on-exit-code", "75", "--retry-on-exit-code", "3", "--retry-backoff", "0.5",
            "busybox:1", "sh", "-c", "echo hi; exit 3", "--url", "literal",
        ])
        let run = try #require(command as? Run)
        #expect(run.detach)
        #expect(run.submission.image == "busybox:1")
        #expect(run.submission.command == ["sh", "-c", "echo hi; exit 3", "--url", "literal"])
        #expect(run.client.url == nil)
        #expect(try run.submission.body() == [
            "image": "busybox:1", "args": ["sh", "-c", "echo hi; exit 3", "--url", "literal"],
            "env": ["A": "1", "B": "x=y"], "labels": ["team": "ml"], "target_host": "gpu", "name": "n",
            "cpus": 0.5, "memory_mb": 256, "timeout_seconds": 60, "priority": 7,
            "max_attempts": 3, "retry_on_exit_codes": [75, 3], "retry_backoff_seconds": 0.5,
        ])
    }

    @Test func secretEnvironmentFromOptionsAndFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("secrets-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "# comment\nDB_PASSWORD=from=file\n\nAPI_KEY=file\n".write(toFile: file, atomically: true, encoding: .utf8)
        let command = try #require(try Berth.parseAsRoot([
            "submit", "--secret-env-file", file, "--secret-env", "API_KEY=option", "busybox",
        ]) as? Submit)
        #expect(try command.submission.body()["secret_env"] == ["DB_PASSWORD": "from=file", "API_KEY": "option"])
        #expect(throws: (any Error).self) { try Berth.parseAsRoot(["submit", "--secret-env", "NOVALUE", "busybox"]) }
        #expect(throws: (any Error).self) { try Berth.parseAsRoot(["submit", "--secret-env-file", file + ".missing", "busybox"]) }
    }

    @Test func sharedOptions() throws {
        let ps = try #require(try Berth.parseAsRoot(["ps", "--url", "http://b:1", "--json", "--state", "failed", "--state", "lost", "-n", "5"]) as? Ps)
        #expect(ps.client.baseURL == "http://b:1")
        #expect(ps.client.json)
        #expect(ps.states == ["failed", "lost"])
        #expect(ps.limit == 5)
        let active = try #require(try Berth.parseAsRoot(["ps"]) as? Ps)
        #expect(active.states == Ps.activeStates)
        let all = try #require(try Berth.parseAsRoot(["ps", "--all"]) as? Ps)
        #expect(all.states.isEmpty)
    }

    @Test func validationErrors() {
        #expect(throws: (any Error).self) { try Berth.parseAsRoot(["ps", "--state", "bogus"]) }
        #expect(throws: (any Error).self) { try Berth.parseAsRoot(["run", "--env", "X", "busybox"]) }
        #expect(throws: (any Error).self) { try Berth.parseAsRoot(["submit", "--memory-mb", "0", "busybox"]) }
        #expect(throws: (any Error).self) { try Berth.parseAsRoot(["logs", "--stream", "stdin", "abc"]) }
        #expect(throws: (any Error).self) { try Berth.parseAsRoot(["submit", "--max-attempts", "0", "busybox"]) }
        #expect(throws: (any Error).self) { try Berth.parseAsRoot(["submit", "--retry-on-exit-code", "0", "busybox"]) }
        #expect(throws: (any Error).self) { try Berth.parseAsRoot(["submit", "--retry-backoff", "-1", "busybox"]) }
        #expect(throws: (any Error).self) { try Berth.parseAsRoot(["submit", "--host", "a", "--host-label", "gpu=true", "busybox"]) }
        #expect(throws: (any Error).self) { try Berth.parseAsRoot(["submit", "--host-label", "gpu", "busybox"]) }
    }

    @Test func hostLabelsSelectHosts() throws {
        let submit = try #require(try Berth.parseAsRoot(["submit", "--host-label", "gpu=true", "--host-label", "zone=1", "busybox"]) as? Submit)
        let body = try submit.submission.body()
        #expect(body["host_selector"] == ["gpu": "true", "zone": "1"] && body["target_host"] == nil)
    }

    @Test func logsAndConfig() throws {
        let logs = try #require(try Berth.parseAsRoot(["logs", "-f", "--stream", "stderr", "abcd"]) as? Logs)
        #expect(logs.follow && logs.stream == .stderr && logs.id == "abcd")
        let check = try #require(try Berth.parseAsRoot(["config", "check", "f.yaml"]) as? ConfigCommand.Check)
        #expect(check.file == "f.yaml")
        let serve = try #require(try Berth.parseAsRoot(["serve", "--config", "b.yaml"]) as? Serve)
        #expect(serve.config == "b.yaml")
    }

    @Test func runExitCodes() throws {
        func view(_ json: JSONValue) throws -> ExecutionView { try ExecutionView(json) }
        #expect(Run.exitCode(for: try view(["id": "a", "state": "succeeded", "exit_code": 0])) == 0)
        #expect(Run.exitCode(for: try view(["id": "a", "state": "failed", "exit_code": 3])) == 3)
        #expect(Run.exitCode(for: try view(["id": "a", "state": "failed", "exit_code": 256])) == 1)
        #expect(Run.exitCode(for: try view(["id": "a", "state": "failed", "error": ["code": "image_not_found", "message": "m"]])) == 125)
        #expect(Run.exitCode(for: try view(["id": "a", "state": "timed_out"])) == 124)
        #expect(Run.exitCode(for: try view(["id": "a", "state": "cancelled"])) == 130)
        #expect(Run.exitCode(for: try view(["id": "a", "state": "lost"])) == 125)
    }
}
