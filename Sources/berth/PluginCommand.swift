import ArgumentParser
import BerthConformance
import BerthCore
import BerthPluginKit
import BerthYAML
import Foundation

/// `berth plugin`: tools for plugin authors, run on one plugin file without a server.
struct PluginCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin", abstract: "Check a backend plugin file without a server (for plugin authors).",
        subcommands: [Check.self, Conformance.self])

    /// `berth plugin check FILE [--settings FILE]`.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load a plugin file as the server does; print its ABI version, name, version and settings schema, or the exact load error.",
            discussion: """
                With --settings, the settings are also checked against the schema, and the plugin is \
                opened with them and asked for its health (which reaches its engine). Exit status: 0 \
                when everything holds, 1 otherwise. docs/plugins.md has every error.
                """)

        @Argument(help: "The plugin's shared library (lib<Name>.so).")
        var file: String

        @Option(name: .long, help: "A YAML or JSON file holding one host's settings object.")
        var settings: String?

        @Flag(name: .long, help: "Print the report as JSON.")
        var json = false

        func run() async throws {
            let settingsValue = try settings.map { try ObjectFile.read($0, what: "settings") }
            let plugin: LoadedPlugin
            do {
                plugin = try LoadedPlugin.load(file: file)
            } catch {
                if json { Terminal.printJSON(["file": .string(file), "loaded": false, "error": .string(error.description)]) }
                Terminal.error(error.description)
                throw ExitCodes.failure
            }
            var report: [String: JSONValue] = [
                "file": .string(file), "loaded": true, "name": .string(plugin.name), "version": .string(plugin.version),
                "abi_version": .number(Double(plugin.abiVersion)), "settings_schema": plugin.settingsSchema,
            ]
            var problems: [String] = []
            if let settingsValue {
                let violations = SettingsSchema(plugin.settingsSchema).violations(of: settingsValue)
                report["settings_violations"] = JSONValue(violations)
                problems += violations.map { "settings rejected: \($0)" }
                if violations.isEmpty {
                    do {
                        let instance = try await plugin.open(settings: settingsValue, host: "check", server: "berth-check")
                        let health = try await instance.health()
                        await instance.close()
                        report["health"] = health.json
                        if !health.ok { problems.append("health: \(health.message)") }
                    } catch {
                        report["open_error"] = error.json
                        problems.append("open failed: \(error.message) (\(error.code))")
                    }
                }
            }
            if json {
                Terminal.printJSON(.object(report))
            } else {
                Terminal.line("file:        \(file)")
                Terminal.line("name:        \(plugin.name)")
                Terminal.line("version:     \(plugin.version)")
                Terminal.line("ABI version: \(plugin.abiVersion)")
                if let health = report["health"] {
                    Terminal.line("health:      \(health["ok"] == true ? "ok" : "not ok"): \(health["message"]?.stringValue ?? "")")
                }
                Terminal.line("settings schema:")
                Terminal.line(Terminal.pretty(plugin.settingsSchema))
            }
            for problem in problems { Terminal.error("\(file): \(problem)") }
            if !problems.isEmpty { throw ExitCodes.failure }
        }
    }

    /// `berth plugin conformance FILE --settings FILE --image IMAGE`.
    struct Conformance: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the conformance suite against a plugin and a live engine; one line per check.",
            discussion: """
                Starts attempts on the engine the settings reach: each runs `sh -c …` in --image \
                (which needs sh, echo and sleep) and carries SIM_* variables for the Simulated \
                backend. Everything it starts is removed at the end. Exit status: 0 when every \
                check passed (a check that does not apply prints `skip`), 1 otherwise. \
                docs/plugins.md, "Conformance", lists the checks.
                """)

        @Argument(help: "The plugin's shared library (lib<Name>.so).")
        var file: String

        @Option(name: .long, help: "A YAML or JSON file holding one host's settings object.")
        var settings: String

        @Option(name: .long, help: "The image the attempts run (with sh, echo and sleep).")
        var image: String = "busybox:latest"

        @Option(name: .long, help: "The longest wait for the engine, in seconds.")
        var timeout: Int = 60

        func validate() throws {
            guard (1...3600).contains(timeout) else { throw ValidationError("--timeout must be from 1 to 3600 seconds") }
        }

        func run() async throws {
            var suite = ConformanceSuite(file: file, settings: try ObjectFile.read(settings, what: "settings"), image: image)
            suite.timeout = .seconds(timeout)
            let results = await suite.run { Terminal.line($0.line) }
            let failed = results.filter { $0.outcome == .failed }.count
            let passed = results.filter { $0.outcome == .passed }.count
            let skipped = results.count - failed - passed
            Terminal.line("\(passed) passed, \(failed) failed, \(skipped) skipped")
            if failed > 0 { throw ExitCodes.failure }
        }
    }
}
