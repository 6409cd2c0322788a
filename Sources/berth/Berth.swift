import ArgumentParser

/// `berth`: the server (`berth serve`) and a client of its REST API (every other command).
@main
struct Berth: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "berth",
        abstract: "Run containerized executions on your hosts.",
        discussion: """
            `berth serve` runs the server. Every other command is a client of its REST API at \
            BERTH_URL (default http://127.0.0.1:8080). See docs/cli.md for exit codes.
            """,
        version: "0.3.0",
        subcommands: [
            Serve.self, Run.self, Submit.self, Ps.self, Show.self, Logs.self, Events.self, Cancel.self, Hosts.self,
            ProgressCommand.self, ResultCommand.self, ArtifactsCommand.self, Plugins.self, PluginCommand.self, Token.self, DB.self,
            ConfigCommand.self, TemplateCommand.self, ScheduleCommand.self,
        ]
    )
}
