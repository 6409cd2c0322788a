import ArgumentParser
import BerthConfiguration
import BerthPostgres
import Logging

/// `berth db`: database tools.
struct DB: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db", abstract: "Work with the server's database.", subcommands: [Migrate.self])

    /// `berth db migrate`.
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply pending schema migrations to the configured database.",
            discussion: "Uses database.url, or the embedded cluster under data_dir when there is none (starting and stopping it).")

        @Option(name: .long, help: ArgumentHelp("The configuration file (default: $BERTH_CONFIG, else built-in defaults).", valueName: "file"))
        var config: String?

        func run() async throws {
            let settings = try ServerSetup.loadConfig(config)
            ServerSetup.bootstrapLogging(level: settings.logLevel, format: settings.logFormat)
            let logger = Logger(label: "berth.db")
            let opened = try await OpenedStore.openMigrated(settings, logger: logger)
            await opened.close(logger: logger)
            Terminal.line("migrated \(opened.description)")
        }
    }
}
