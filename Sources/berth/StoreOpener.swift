import BerthConfiguration
import BerthPostgres
import Foundation
import Logging

/// The Store a configuration names: PostgreSQL at `database.url`, or an embedded cluster
/// under `data_dir` when there is none.
struct OpenedStore {
    let store: PostgresStore
    let embedded: EmbeddedPostgres?
    /// Where the data is, for messages, without a password.
    let description: String

    /// Opens the store (starting the embedded cluster when configured so); nothing connects
    /// until first use.
    static func open(_ config: BerthConfig, logger: Logger) async throws -> OpenedStore {
        if let url = config.databaseURL {
            let configuration = PostgresConfiguration(connectionString: url, applicationName: "berth-\(config.serverID)")
            return OpenedStore(
                store: PostgresStore(configuration: configuration, maxLogBytesPerExecution: config.maxLogBytesPerExecution, logger: logger),
                embedded: nil, description: configuration.redactedDescription)
        }
        // Created here, world-traversable, so that the cluster (which runs as `postgres` when
        // berth runs as root) can reach its own folder inside it; EmbeddedPostgres would
        // create missing parents with mode 0700.
        try FileManager.default.createDirectory(
            atPath: config.embeddedPostgresDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let embedded = EmbeddedPostgres(
            dataDirectory: URL(fileURLWithPath: config.embeddedPostgresDirectory),
            logger: Logger(label: "berth.embedded-postgres", factory: { _ in logger.handler }))
        let configuration = try await embedded.start()
        return OpenedStore(
            store: PostgresStore(configuration: configuration, maxLogBytesPerExecution: config.maxLogBytesPerExecution, logger: logger),
            embedded: embedded, description: "embedded PostgreSQL in \(embedded.clusterDirectory.path)")
    }

    /// Opens the store and applies the migrations. On failure it prints one line and throws the
    /// failure exit code, having closed what it opened.
    static func openMigrated(_ config: BerthConfig, logger: Logger) async throws -> OpenedStore {
        let opened: OpenedStore
        do {
            opened = try await open(config, logger: logger)
        } catch {
            Terminal.error("cannot open the database: \(error)")
            throw ExitCodes.failure
        }
        do {
            try await opened.store.migrate()
        } catch {
            await opened.close(logger: logger)
            Terminal.error("cannot migrate \(opened.description): \(error)")
            throw ExitCodes.failure
        }
        return opened
    }

    /// Closes the pool and stops the embedded cluster, if any.
    func close(logger: Logger) async {
        await store.shutdown()
        if let embedded {
            do {
                try await embedded.stop()
            } catch {
                logger.error("cannot stop the embedded PostgreSQL", metadata: ["error": "\(error)"])
            }
        }
    }
}
