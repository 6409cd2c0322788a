import BerthTestSupport
import Foundation
import Testing

/// The `berth` binary's argument handling, exit codes and `config check`, as a user runs it.
@Suite("berth command line")
struct CommandLineTests {
    @Test func unreachableServerIsOneLineAndExit69() async throws {
        let port = try freePort()
        let result = try await Subprocess.berth(["ps"], environment: ["BERTH_URL": "http://127.0.0.1:\(port)"])
        #expect(result.status == 69)
        #expect(result.stderr == "berth: cannot reach the Berth server at http://127.0.0.1:\(port): connection refused (set BERTH_URL)\n")
        #expect(result.stdout.isEmpty)
    }

    @Test func urlOptionWinsOverTheEnvironment() async throws {
        let port = try freePort()
        let result = try await Subprocess.berth(
            ["show", "--url", "http://127.0.0.1:\(port)/", "0123456789abcdef0123456789abcdef0123"],
            environment: ["BERTH_URL": "http://127.0.0.1:1"])
        #expect(result.status == 69)
        #expect(result.stderr.contains("http://127.0.0.1:\(port):"))
    }

    @Test(arguments: [
        (["ps", "--state", "bogus"], "unknown state 'bogus'"),
        (["ps", "--all", "--state", "running"], "--all and --state cannot be used together"),
        (["run", "--env", "NOEQUALS", "busybox"], "--env expects KEY=VALUE, found 'NOEQUALS'"),
        (["run", "--priority", "5000", "busybox"], "--priority must be between -1000 and 1000"),
        (["submit", "--cpus", "0", "busybox"], "--cpus must be greater than 0"),
        (["run"], "Missing expected argument '<image>'"),
        (["logs", "--stream", "stdin", "abcd"], "stdin"),
    ])
    func usageErrorsExit64(arguments: [String], message: String) async throws {
        let result = try await Subprocess.berth(arguments, environment: ["BERTH_URL": "http://127.0.0.1:1"])
        #expect(result.status == 64, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test func helpListsEveryCommand() async throws {
        let result = try await Subprocess.berth(["--help"])
        #expect(result.status == 0)
        for command in ["serve", "run", "submit", "ps", "show", "logs", "events", "cancel", "hosts", "plugins", "db", "config"] {
            #expect(result.stdout.contains("  \(command)"), "\(command) missing from help")
        }
    }

    /// Golden help text (COLUMNS=100), so a changed option or wording is a visible diff.
    @Test("completion scripts for bash, zsh and fish name every command and option", arguments: ["bash", "zsh", "fish"])
    func completionScripts(shell: String) async throws {
        let result = try await Subprocess.berth(["--generate-completion-script", shell])
        #expect(result.status == 0, "\(result.stderr)")
        for word in ["run", "submit", "logs", "ps", "cancel", "serve", "follow", "host"] {
            #expect(result.stdout.contains(word), "\(shell) script lacks \(word)")
        }
    }

    @Test func psHelpIsGolden() async throws {
        let result = try await Subprocess.berth(["ps", "--help"], environment: ["COLUMNS": "100"])
        #expect(result.status == 0)
        #expect(result.stdout == Self.psHelp)
    }

    static let psHelp = """
        OVERVIEW: List executions, newest first (by default only those not yet finished).

        USAGE: berth ps [--url <url>] [--token <token>] [--ca-file <file>] [--json] [--state <state> ...] [--host <host>] [--all] [--limit <limit>]

        OPTIONS:
          --url <url>             The server's base URL (default: $BERTH_URL, else http://127.0.0.1:8080).
          --token <token>         An API token (default: $BERTH_TOKEN, else for a server on this machine
                                  the file $BERTH_TOKEN_FILE, else <data_dir>/admin.token).
          --ca-file <file>        For an https:// server: PEM certificates to trust instead of the system's
                                  (default: $BERTH_CA_FILE).
          --json                  Print the server's JSON instead of text.
          --state <state>         Only this state (repeatable): queued, scheduled, starting, running,
                                  succeeded, failed, timed_out, cancelled, lost.
          --host <host>           Only executions on this host.
          -a, --all               Include finished executions.
          -n, --limit <limit>     At most this many (1 to 500; default: the server's page size, 50).
          --version               Show the version.
          -h, --help              Show help information.


        """

    private func write(_ text: String) throws -> String {
        let folder = try temporaryFolder("berth-config")
        let file = folder.appendingPathComponent("berth.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    @Test func configCheckAcceptsGoodSettings() async throws {
        let file = try write("""
            hosts:
              - name: local
                plugin: docker
                settings: {socket_path: /nonexistent/docker.sock, pull_policy: never}
              - name: sim
                plugin: simulated
                settings: {max_concurrent: 10}
            """)
        defer { try? FileManager.default.removeItem(at: URL(fileURLWithPath: file).deletingLastPathComponent()) }
        let result = try await Subprocess.berth(["config", "check", file])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("local  ok     docker "))
        #expect(lines[1].hasPrefix("sim    ok     simulated "))
    }

    @Test func configCheckReportsEveryBadHost() async throws {
        let file = try write("""
            hosts:
              - name: sim
                plugin: simulated
                settings: {max_concurent: 10}
              - name: k8s
                plugin: nomad
              - name: ok
                plugin: simulated
            """)
        defer { try? FileManager.default.removeItem(at: URL(fileURLWithPath: file).deletingLastPathComponent()) }
        let result = try await Subprocess.berth(["config", "check", file])
        #expect(result.status == 1)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(result.stdout)")
        #expect(lines[0].hasPrefix("sim  error  simulated "))
        #expect(lines[0].contains("hosts[0].settings.max_concurent: unknown key"))
        #expect(lines[1].hasPrefix("k8s  error  no loaded plugin is named 'nomad' (loaded: "))
        #expect(lines[2].hasPrefix("ok   ok     simulated "))
        #expect(result.stderr == "berth: \(file): 2 problems\n")
    }

    @Test func configCheckReportsFileErrors() async throws {
        let file = try write("hosts:\n  - name: a\n")
        defer { try? FileManager.default.removeItem(at: URL(fileURLWithPath: file).deletingLastPathComponent()) }
        let result = try await Subprocess.berth(["config", "check", file])
        #expect(result.status == 1)
        #expect(result.stderr == "berth: \(file): hosts[0].plugin: is required\n")
    }

    @Test func configCheckAppliesTheEnvironment() async throws {
        let file = try write("hosts: [{name: sim, plugin: simulated}]\n")
        defer { try? FileManager.default.removeItem(at: URL(fileURLWithPath: file).deletingLastPathComponent()) }
        let result = try await Subprocess.berth(["config", "check", file], environment: ["BERTH_PLUGIN_DIRS": "/nonexistent"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("no plugins found in /nonexistent"))
        #expect(result.stdout.contains("sim  error  no loaded plugin is named 'simulated' (loaded: none)"))
    }
}
