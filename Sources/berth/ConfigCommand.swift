import ArgumentParser
import BerthConfiguration
import BerthCore
import BerthPluginKit
import Foundation
import Logging

/// `berth config`: configuration tools.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Work with the configuration file.", subcommands: [Check.self])

    /// `berth config check FILE`.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a configuration file and each host's settings against its plugin's schema.",
            discussion: """
                Loads the plugins from the configured plugin folders as the server does, but opens no \
                host and starts nothing. Prints one line per host; exits 1 on any problem. The \
                BERTH_* environment variables apply as they do for `berth serve`.
                """)

        @Argument(help: "The YAML configuration file.")
        var file: String

        func run() async throws {
            let config: BerthConfig
            do {
                config = try BerthConfig.load(file: file, environment: ProcessInfo.processInfo.environment)
            } catch {
                Terminal.error(error.description)
                throw ExitCodes.failure
            }
            let problems = await Self.check(config) { Terminal.line($0) }
            if problems > 0 {
                Terminal.error("\(file): \(problems) problem\(problems == 1 ? "" : "s")")
                throw ExitCodes.failure
            }
        }

        /// Loads the plugins, checks every host, reports one line per plugin failure and per
        /// host, and returns the number of problems.
        static func check(_ config: BerthConfig, report: (String) -> Void) async -> Int {
            var problems = 0
            // A PluginHost with no hosts loads the plugins exactly as the server's does and
            // opens nothing.
            var loading = config.pluginHostConfiguration()
            loading.hosts = []
            let plugins = PluginHost(configuration: loading, logger: Logger(label: "berth.config-check", factory: { _ in SwiftLogNoOpLogHandler() }))
            await plugins.start()
            let records = await plugins.plugins
            for record in records {
                if case .failure(let error) = record.result {
                    problems += 1
                    report("plugin \(record.file): \(error.message)")
                }
            }
            if records.isEmpty {
                report("no plugins found in \(config.effectivePluginDirectories.joined(separator: ", "))")
            }
            let loaded = records.compactMap { try? $0.result.get() }
            let width = config.hosts.map(\.name.count).max() ?? 0
            for (offset, host) in config.hosts.enumerated() {
                let name = host.name.padding(toLength: width, withPad: " ", startingAt: 0)
                guard let plugin = loaded.first(where: { $0.name == host.plugin }) else {
                    problems += 1
                    let names = loaded.map(\.name).sorted()
                    report("\(name)  error  no loaded plugin is named '\(host.plugin)' (loaded: \(names.isEmpty ? "none" : names.joined(separator: ", ")))")
                    continue
                }
                let violations = SettingsSchema(plugin.settingsSchema).violations(of: host.settings, path: "hosts[\(offset)].settings")
                if violations.isEmpty {
                    report("\(name)  ok     \(plugin.name) \(plugin.version)")
                } else {
                    problems += 1
                    report("\(name)  error  \(plugin.name) \(plugin.version): \(violations.joined(separator: "; "))")
                }
            }
            await plugins.shutdown()
            return problems
        }
    }
}
