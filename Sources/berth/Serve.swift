import ArgumentParser
import BerthClient
import BerthConfiguration
import BerthCore
import BerthServer
import BerthPostgres
import BerthSecrets
import CoreMetrics
import Hummingbird
import Foundation
import Logging
import Prometheus

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
        if let folder = settings.jobService?.configFolder {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
                Terminal.error("job_service.config_folder: \(folder) is not a folder")
                throw ExitCodes.failure
            }
        }
        ServerSetup.bootstrapLogging(level: settings.logLevel, format: settings.logFormat)
        // What Berth records goes to the process's Prometheus registry, served at GET /metrics.
        MetricsSystem.bootstrap(PrometheusMetricsFactory())
        let logger = Logger(label: "berth")
        logger.info("starting", metadata: [
            "config": "\(settings.file ?? "(defaults)")",
            "hosts": "\(settings.hosts.map(\.name).joined(separator: ","))",
        ])

        let opened = try await OpenedStore.openMigrated(settings, logger: Logger(label: "berth.store"))
        logger.info("database ready", metadata: ["database": "\(opened.description)"])
        let sealer: AESGCMSealer
        let webhookSecret: [UInt8]
        do {
            settings.serverID = try await deploymentServerID(settings, store: opened.store)
            webhookSecret = try Self.webhookSecret(settings)
            logger.info("deployment", metadata: ["server_id": "\(settings.serverID)"])
            try await FirstToken.ensure(settings, store: opened.store, logger: logger)
            sealer = try await Self.secretsSealer(settings, store: opened.store)
        } catch {
            await opened.close(logger: logger)
            throw error
        }

        let plugins = PluginHost(configuration: settings.pluginHostConfiguration(), logger: Logger(label: "berth.plugins"))
        await plugins.start()
        var supervision = ExecutionSupervisor.Options()
        supervision.configPath = settings.configPath
        supervision.maxArtifactBytes = settings.maxArtifactBytes
        supervision.retention = settings.retentionSeconds.map { .milliseconds(Int64($0 * 1000)) }
        supervision.outputsPath = settings.maxArtifactBytes > 0 ? supervision.outputsPath : nil
        let supervisor = ExecutionSupervisor(
            store: opened.store, plugins: plugins, options: supervision, sealer: sealer, logger: Logger(label: "berth.supervisor"))
        let scheduler = Scheduler(
            store: opened.store, plugins: plugins, supervisor: supervisor,
            configuration: settings.schedulerConfiguration(),
            logger: Logger(label: "berth.scheduler"))
        // The scheduler starts the supervisor when it runs.
        let scheduling = Task { await scheduler.run() }
        let webhooks = WebhookDispatcher(store: opened.store, signer: WebhookSigner(secret: webhookSecret), logger: Logger(label: "berth.webhooks"))
        let dispatching = Task { await webhooks.run() }

        var server = ServerConfiguration(
            host: settings.listen.host, port: settings.listen.port, maxBodyBytes: settings.maxBodyBytes,
            defaultHost: settings.defaultHost, policies: settings.policiesByHost)
        server.maxHeaderBytes = settings.limits.maxHeaderBytes
        server.idleTimeout = .milliseconds(Int64(settings.limits.idleTimeoutSeconds * 1000))
        server.requestReadTimeout = .milliseconds(Int64(settings.limits.readTimeoutSeconds * 1000))
        server.maxLogFollowsPerToken = settings.limits.maxLogFollowsPerToken
        server.webhookURLs = settings.webhookURLs
        server.jobService = settings.jobService
        server.dashboard = settings.dashboardEnabled
        server.hostLabels = settings.labelsByHost
        if let certificate = settings.listen.tlsCertificateFile, let key = settings.listen.tlsKeyFile {
            server.tls = ServerConfiguration.TLSFiles(certificateFile: certificate, keyFile: key)
        }
        let context = ServerContext(store: opened.store, plugins: plugins, control: scheduler, sealer: sealer)
        // Only the scheduling leader makes the schedules' runs.
        let schedules = ScheduleRunner(
            configuration: server, context: context, isLeader: { await scheduler.isLeader }, logger: Logger(label: "berth.schedules"))
        let runningSchedules = Task { await schedules.run() }
        let application = try await Self.application(server, context) {
            runningSchedules.cancel()
            await runningSchedules.value
            dispatching.cancel()
            await scheduler.shutdown()
            await scheduling.value
            await supervisor.shutdown()
            await plugins.shutdown()
            await opened.close(logger: logger)
        }
        let url = settings.listenURL
        // Over HTTPS the server's own certificate is trusted too (a self-signed one).
        let ownCertificate = settings.listen.tlsCertificateFile.flatMap { FileManager.default.contents(atPath: $0) }.map { [UInt8]($0) }
        let announcement = Task {
            let clients = [BerthClient(baseURL: url), BerthClient(baseURL: url, certificateAuthorityPEM: ownCertificate)]
            while !Task.isCancelled {
                for client in clients where await client.isReady() {
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
        runningSchedules.cancel()
        await runningSchedules.value
        dispatching.cancel()
        await dispatching.value
        await scheduler.shutdown()
        await scheduling.value
        await supervisor.shutdown()
        await plugins.shutdown()
        await opened.close(logger: logger)
        logger.info("stopped")
        if failed { throw ExitCodes.failure }
    }

    /// The secret that signs webhook calls: the configured or default file (made with 32 random
    /// bytes, hex, mode 0600, when missing). Every server of a deployment must use the same file,
    /// and receivers need its contents to check signatures.
    private static func webhookSecret(_ settings: BerthConfig) throws -> [UInt8] {
        let file = settings.effectiveWebhookSecretFile
        if !FileManager.default.fileExists(atPath: file) {
            var generator = SystemRandomNumberGenerator()
            let hex = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
            do {
                _ = try PrivateFile.create(file, text: hex + "\n")
            } catch {
                throw ValidationError("cannot create the webhook secret file \(file): \(error)")
            }
        }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw ValidationError("cannot read the webhook secret file \(file)")
        }
        let secret = Array(text.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        guard secret.count >= 16 else { throw ValidationError("the webhook secret in \(file) is shorter than 16 bytes") }
        return secret
    }

    /// The key that seals secret environments: the configured or default key file (made when
    /// missing), which must be the deployment's (its key id is recorded in the database).
    private static func secretsSealer(_ settings: BerthConfig, store: PostgresStore) async throws -> AESGCMSealer {
        let file = settings.effectiveSecretsKeyFile
        let sealer: AESGCMSealer
        let recorded: String
        do {
            sealer = try AESGCMSealer.load(file: file)
            recorded = try await store.deploymentFact(.secretsKeyID, proposing: sealer.keyID)
        } catch let error as SecretError {
            Terminal.error(error.description)
            throw ExitCodes.failure
        } catch let error as StoreError {
            Terminal.error("cannot read the deployment's secrets key id: \(error.message)")
            throw ExitCodes.failure
        }
        guard recorded == sealer.keyID else {
            Terminal.error("""
                the secrets key in \(file) (key id \(sealer.keyID)) is not the deployment's (key id \(recorded)): \
                every server sharing a database must use the same key file (secrets.key_file), or the secrets \
                the others sealed cannot be opened
                """)
            throw ExitCodes.failure
        }
        return sealer
    }

    /// The REST application; on a setup failure (a TLS file) it prints the reason, runs
    /// `cleanup` and exits 1.
    private static func application(
        _ server: ServerConfiguration, _ context: ServerContext, cleanup: () async -> Void
    ) async throws -> some ApplicationProtocol {
        do {
            return try await buildApplication(configuration: server, context: context, logger: Logger(label: "berth.server"))
        } catch {
            Terminal.error(error.description)
            await cleanup()
            throw ExitCodes.failure
        }
    }

    /// The server id every server on this database shares: the recorded one, unless the
    /// configuration names a different one, which is an error (the servers would not see each
    /// other's containers).
    private func deploymentServerID(_ settings: BerthConfig, store: PostgresStore) async throws -> String {
        let recorded: String
        do {
            recorded = try await store.deploymentFact(.serverID, proposing: settings.serverID)
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
