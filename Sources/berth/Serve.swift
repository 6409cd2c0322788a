import ArgumentParser
import BerthClient
import BerthConfiguration
import BerthCore
import BerthServer
import BerthPostgres
import Hummingbird
import Logging

/// `berth serve`: the server.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the Berth server: REST API, scheduler and plugins.",
        discussion: """
            Reads the configuration (--config, else $BERTH_CONFIG, else built-in defaults: one host \
            'local' on the local Docker engine), opens the database (starting the embedded cluster \
            under data_dir when database.url is not set) and applies migrations, loads the plugins \
            and opens the hosts, then serves. SIGTERM or SIGINT stops it in order (server, \
            scheduler, supervisor, plugins, database) and it exits 0.
            """)

    @Option(name: .long, help: ArgumentHelp("The configuration file (default: $BERTH_CONFIG, else built-in defaults).", valueName: "file"))
    var config: String?

    func run() async throws {
        var settings = try ServerSetup.loadConfig(config)
        ServerSetup.bootstrapLogging(level: settings.logLevel)
        let logger = Logger(label: "berth")
        logger.info("starting", metadata: [
            "config": "\(settings.file ?? "(defaults)")",
            "hosts": "\(settings.hosts.map(\.name).joined(separator: ","))",
        ])

        let opened = try await OpenedStore.openMigrated(settings, logger: Logger(label: "berth.store"))
        logger.info("database ready", metadata: ["database": "\(opened.description)"])
        do {
            settings.serverID = try await deploymentServerID(settings, store: opened.store)
            logger.info("deployment", metadata: ["server_id": "\(settings.serverID)"])
            try await FirstToken.ensure(settings, store: opened.store, logger: logger)
        } catch {
            await opened.close(logger: logger)
            throw error
        }

        let plugins = PluginHost(configuration: settings.pluginHostConfiguration(), logger: Logger(label: "berth.plugins"))
        await plugins.start()
        let supervisor = ExecutionSupervisor(store: opened.store, plugins: plugins, logger: Logger(label: "berth.supervisor"))
        let scheduler = Scheduler(
            store: opened.store, plugins: plugins, supervisor: supervisor,
            configuration: settings.schedulerConfiguration(),
            logger: Logger(label: "berth.scheduler"))
        // The scheduler starts the supervisor when it runs.
        let scheduling = Task { await scheduler.run() }

        var server = ServerConfiguration(
            host: settings.listen.host, port: settings.listen.port, maxBodyBytes: settings.maxBodyBytes,
            defaultHost: settings.defaultHost, policies: settings.policiesByHost)
        server.maxHeaderBytes = settings.limits.maxHeaderBytes
        server.idleTimeout = .milliseconds(Int64(settings.limits.idleTimeoutSeconds * 1000))
        server.maxLogFollowsPerToken = settings.limits.maxLogFollowsPerToken
        let application = await buildApplication(
            configuration: server,
            context: ServerContext(store: opened.store, plugins: plugins, control: scheduler),
            logger: Logger(label: "berth.server"))
        let url = settings.listenURL
        let announcement = Task {
            let client = BerthClient(baseURL: url)
            while !Task.isCancelled {
                if await client.isReady() {
                    Terminal.line("Berth is serving on \(url)")
                    return
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }

        var failed = false
        do {
            // Returns after SIGTERM or SIGINT, once the HTTP server has shut down.
            try await application.runService()
        } catch {
            logger.error("server failed", metadata: ["error": "\(error)"])
            Terminal.error("the server failed: \(error)")
            failed = true
        }
        announcement.cancel()
        logger.info("shutting down")
        await scheduler.shutdown()
        await scheduling.value
        await supervisor.shutdown()
        await plugins.shutdown()
        await opened.close(logger: logger)
        logger.info("stopped")
        if failed { throw ExitCodes.failure }
    }

    /// The server id every server on this database shares: the recorded one, unless the
    /// configuration names a different one, which is an error (the servers would not see each
    /// other's containers).
    private func deploymentServerID(_ settings: BerthConfig, store: PostgresStore) async throws -> String {
        let recorded: String
        do {
            recorded = try await store.deploymentServerID(proposing: settings.serverID)
        } catch {
            Terminal.error("cannot read the deployment's server id: \(error.message)")
            throw ExitCodes.failure
        }
        if recorded != settings.serverID, settings.serverIDIsConfigured {
            Terminal.error("""
                server_id '\(settings.serverID)' differs from '\(recorded)', the server id recorded in the database: \
                every server sharing a database must use the same one, or they cannot adopt each other's \
                containers (set server_id to '\(recorded)', or remove it)
                """)
            throw ExitCodes.failure
        }
        return recorded
    }
}
