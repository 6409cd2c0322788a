import BerthPluginKit
import BerthTestSupport
import Foundation
import Testing

/// `berth plugin check` and `berth plugin conformance` on the in-tree plugins, as a plugin
/// author runs them: separate processes, the real engines.
@Suite("berth plugin", .sshd)
struct PluginCommandTests {
    static func plugin(_ library: String) -> String { TestEnvironment.pluginFolder + "/" + library }

    /// A settings file holding `yaml`.
    static func settingsFile(_ yaml: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("plugin-settings-\(UUID().uuidString).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("check prints the descriptor; with settings it validates them and asks for health")
    func check() async throws {
        let simulated = try await Subprocess.berth(["plugin", "check", Self.plugin("libBerthSimulated.so")])
        #expect(simulated.status == 0, "\(simulated.stderr)")
        for expected in ["name:        simulated", "version:     1.0.0", "ABI version: 1", "\"max_concurrent\""] {
            #expect(simulated.stdout.contains(expected), "\(simulated.stdout)")
        }
        let docker = try Self.settingsFile("socket_path: \(try TestEnvironment.dockerSocket())\n")
        let healthy = try await Subprocess.berth(["plugin", "check", Self.plugin("libBerthDocker.so"), "--settings", docker, "--json"])
        #expect(healthy.status == 0, "\(healthy.stderr)")
        let report = try JSONValue(parsing: healthy.stdout)
        #expect(report["name"] == "docker" && report["abi_version"] == 1 && report["health"]?["ok"] == true, "\(healthy.stdout)")
        #expect(report["settings_schema"]?["properties"]?["socket_path"] != nil)

        let wrongType = try Self.settingsFile("socket_path: 12\n")
        let refused = try await Subprocess.berth(["plugin", "check", Self.plugin("libBerthDocker.so"), "--settings", wrongType])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("settings rejected: settings.socket_path: expected string, found number"), "\(refused.stderr)")
        let noEngine = try Self.settingsFile("socket_path: /nonexistent/docker.sock\n")
        let down = try await Subprocess.berth(["plugin", "check", Self.plugin("libBerthDocker.so"), "--settings", noEngine])
        #expect(down.status == 1 && down.stderr.contains("health: "), "\(down.stderr)")
    }

    @Test("check reports the exact load error of a file that is not a plugin")
    func checkLoadErrors() async throws {
        let text = try Self.settingsFile("not: a library\n")
        let notLibrary = try await Subprocess.berth(["plugin", "check", text])
        #expect(notLibrary.status == 1)
        #expect(notLibrary.stderr.contains("not a shared library"), "\(notLibrary.stderr)")
        let missing = try await Subprocess.berth(["plugin", "check", "/nonexistent/libNothing.so"])
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent/libNothing.so"), "\(missing.stderr)")
        // A shared library without the entry symbol: libc's, as good as any.
        let noEntry = try await Subprocess.berth(["plugin", "check", "/lib/x86_64-linux-gnu/libz.so.1"])
        #expect(noEntry.status == 1 && noEntry.stderr.contains("does not export berth_plugin_v1"), "\(noEntry.stderr)")
        let badSettings = try Self.settingsFile("[1, 2]\n")
        let notObject = try await Subprocess.berth(["plugin", "check", Self.plugin("libBerthSimulated.so"), "--settings", badSettings])
        #expect(notObject.status == 1 && notObject.stderr.contains("the settings must be an object, found array"), "\(notObject.stderr)")
    }

    /// Runs the suite on `library` with `settings` and checks every check passed.
    func conformance(_ library: String, settings: String, image: String) async throws {
        let run = try await Subprocess.berth(
            ["plugin", "conformance", Self.plugin(library), "--settings", try Self.settingsFile(settings), "--image", image], timeout: 600)
        print("berth plugin conformance \(library):\n\(run.stdout)")
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("ok ") }.count == Self.checks.count, "\(run.stdout)")
        for check in Self.checks {
            #expect(lines.contains { $0.hasPrefix("ok    \(check): ") }, "\(check) did not pass:\n\(run.stdout)")
        }
    }

    /// Every check of the suite, in order (docs/plugins.md, "Conformance").
    static let checks = [
        "load", "settings", "bad-settings", "open", "bad-spec", "lifecycle", "logs", "follow", "events", "list", "stop",
        "cancel-stream", "remove", "close",
    ]

    @Test func simulatedConforms() async throws {
        try await conformance("libBerthSimulated.so", settings: "max_concurrent: 4\n", image: "sim/conformance:1")
    }

    @Test func dockerConforms() async throws {
        try await conformance("libBerthDocker.so", settings: "socket_path: \(try TestEnvironment.dockerSocket())\n", image: TestEnvironment.localImage)
    }

    @Test func dockerOverSSHConforms() async throws {
        let settings = try remoteDockerSettingsYAML().split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: "\n")
        try await conformance("libBerthDockerSSH.so", settings: settings + "\n", image: TestEnvironment.localImage)
    }

    @Test("a plugin that breaks the contract fails the suite, naming the check")
    func brokenPluginFails() async throws {
        // The Simulated plugin ignores the grace period but ends at once, so it passes stop;
        // with its start delay it never shows `running` within a 1 s timeout: lifecycle fails.
        let run = try await Subprocess.berth(
            ["plugin", "conformance", Self.plugin("libBerthSimulated.so"), "--settings",
             try Self.settingsFile("start_delay_ms: 600000\n"), "--image", "sim/conformance:1", "--timeout", "1"], timeout: 300)
        #expect(run.status == 1)
        #expect(run.stdout.contains("FAIL  lifecycle: "), "\(run.stdout)")
        #expect(run.stdout.contains("failed"), "\(run.stdout)")
    }
}
