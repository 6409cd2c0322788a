public import Foundation
import Glibc
public import Logging

/// A private PostgreSQL cluster under a data folder, for when no database URL is configured.
///
/// `start()` runs `initdb` once (user `berth`, trust on the local socket only, UTF8), then
/// `pg_ctl start` with `listen_addresses = ''` and the unix socket in `<data>/postgres/run`
/// (or a short `/tmp/berth-pg-XXXXXX` folder when that path is too long for a socket), waits
/// until it serves, creates the database, and returns its configuration. An existing cluster is
/// reused; a running postmaster for it is adopted; a stale `postmaster.pid` is removed.
/// As root, `initdb` and `pg_ctl` run as the `postgres` system user through `runuser`.
public actor EmbeddedPostgres {
    /// The folder the cluster lives under (`<dataDirectory>/postgres`).
    public nonisolated let dataDirectory: URL
    /// The database created and returned by ``start()``.
    public nonisolated let database: String
    /// The superuser `initdb` creates; local socket connections as this user need no password.
    public nonisolated let user = "berth"
    /// The port number in the socket's name (`.s.PGSQL.<port>`); nothing listens on TCP.
    public nonisolated let port: Int

    private let configuredBinDirectory: String?
    private let logger: Logger
    private var socketDirectory: String?
    private var temporarySocketDirectory: String?

    /// Describes a cluster; nothing happens until ``start()``.
    /// - Parameters:
    ///   - dataDirectory: The server's data folder; the cluster goes in its `postgres` subfolder.
    ///   - binDirectory: Where `initdb` and `pg_ctl` are; `nil` finds them.
    ///   - database: The database to create and connect to.
    ///   - port: The number in the socket file's name.
    ///   - logger: Where to log.
    public init(
        dataDirectory: URL, binDirectory: String? = nil, database: String = "berth", port: Int = 5432,
        logger: Logger = Logger(label: "berth.embedded-postgres")
    ) {
        self.dataDirectory = dataDirectory
        self.configuredBinDirectory = binDirectory
        self.database = database
        self.port = port
        self.logger = logger
    }

    /// The cluster folder (`PGDATA`).
    public nonisolated var clusterDirectory: URL { dataDirectory.appendingPathComponent("postgres/data") }
    /// The server log.
    public nonisolated var logFile: URL { dataDirectory.appendingPathComponent("postgres/postgres.log") }

    /// The socket folder of the running cluster, or `nil` when not started by this object.
    public var currentSocketDirectory: String? { socketDirectory }

    /// Starts (initialising if needed) the cluster and returns how to connect to its database.
    public func start() async throws(EmbeddedPostgresError) -> PostgresConfiguration {
        let (binDirectory, runner) = try prepare()
        let socket = try await blocking { () throws(EmbeddedPostgresError) -> String in
            try self.startCluster(binDirectory: binDirectory, runner: runner)
        }
        socketDirectory = socket
        temporarySocketDirectory = socket.hasPrefix(dataDirectory.path + "/") ? nil : socket
        let configuration = configuration(socketDirectory: socket)
        try await ensureDatabase(configuration)
        logger.info("embedded PostgreSQL ready", metadata: ["data": "\(clusterDirectory.path)", "socket": "\(socket)"])
        return configuration
    }

    /// Stops the cluster (`pg_ctl stop -m fast`) and removes a temporary socket folder.
    /// Does nothing when the cluster is not running.
    public func stop() async throws(EmbeddedPostgresError) {
        let (binDirectory, runner) = try prepare()
        let temporary = temporarySocketDirectory
        try await blocking { () throws(EmbeddedPostgresError) in
            let status = try runner.run("\(binDirectory)/pg_ctl", ["-D", self.clusterDirectory.path, "status"])
            if status.status == 0 {
                try runner.check("\(binDirectory)/pg_ctl", ["-D", self.clusterDirectory.path, "-m", "fast", "-w", "-t", "60", "stop"], logFile: self.logFile)
            }
            if let temporary { try? FileManager.default.removeItem(atPath: temporary) }
        }
        temporarySocketDirectory = nil
        socketDirectory = nil
        logger.info("embedded PostgreSQL stopped", metadata: ["data": "\(clusterDirectory.path)"])
    }

    /// The connection URL for a socket folder: `postgresql:///<db>?host=<folder>&port=<port>&user=berth`.
    public nonisolated func connectionURL(socketDirectory: String) -> String {
        let host = socketDirectory.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? socketDirectory
        return "postgresql:///\(database)?host=\(host)&port=\(port)&user=\(user)"
    }

    private nonisolated func configuration(socketDirectory: String) -> PostgresConfiguration {
        PostgresConfiguration(connectionString: connectionURL(socketDirectory: socketDirectory))
    }

    // MARK: - Blocking work, run off the cooperative pool

    private nonisolated func prepare() throws(EmbeddedPostgresError) -> (String, CommandRunner) {
        let binDirectory = try PostgresBinaries.locate(configured: configuredBinDirectory)
        let runAs = geteuid() == 0 ? "postgres" : nil
        let base = dataDirectory.appendingPathComponent("postgres")
        do {
            try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw EmbeddedPostgresError(message: "cannot create \(base.path): \(error)")
        }
        try chownIfRoot(base.path)
        return (binDirectory, CommandRunner(runAsUser: runAs, outputFile: base.appendingPathComponent("command.log")))
    }

    private nonisolated func startCluster(binDirectory: String, runner: CommandRunner) throws(EmbeddedPostgresError) -> String {
        let data = clusterDirectory.path
        if !FileManager.default.fileExists(atPath: "\(data)/PG_VERSION") {
            logger.info("initialising embedded PostgreSQL cluster", metadata: ["data": "\(data)"])
            try runner.check("\(binDirectory)/initdb", [
                "-D", data, "-U", user, "--auth-local=trust", "--auth-host=reject", "-E", "UTF8", "--no-locale",
                "--no-instructions",
            ])
            try append("\ninclude_if_exists = 'berth.conf'\n", to: "\(data)/postgresql.conf")
        }
        if let running = try runningSocketDirectory(binDirectory: binDirectory, runner: runner) {
            logger.info("adopting running embedded PostgreSQL", metadata: ["data": "\(data)", "socket": "\(running)"])
            return running
        }
        let socket = try chooseSocketDirectory()
        let settings = """
            # Written by berth at each start; do not edit.
            listen_addresses = ''
            unix_socket_directories = '\(socket.replacingOccurrences(of: "'", with: "''"))'
            port = \(port)
            """
        try write(settings, to: "\(data)/berth.conf")
        try runner.check("\(binDirectory)/pg_ctl", ["-D", data, "-l", logFile.path, "-w", "-t", "60", "start"], logFile: logFile)
        return socket
    }

    /// The socket folder of a postmaster already running for this cluster, or `nil`.
    /// Removes a `postmaster.pid` whose process is gone (or is not a postgres process).
    private nonisolated func runningSocketDirectory(binDirectory: String, runner: CommandRunner) throws(EmbeddedPostgresError) -> String? {
        let pidFile = clusterDirectory.appendingPathComponent("postmaster.pid").path
        guard let contents = try? String(contentsOfFile: pidFile, encoding: .utf8) else { return nil }
        let lines = contents.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let pid = lines.first.flatMap { pid_t($0.trimmingCharacters(in: .whitespaces)) } ?? 0
        let alive = pid > 0 && kill(pid, 0) == 0
        let command = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
        if alive, command.contains("postgres") {
            let status = try runner.run("\(binDirectory)/pg_ctl", ["-D", clusterDirectory.path, "status"])
            if status.status == 0, lines.count > 4, !lines[4].isEmpty { return lines[4] }
        }
        logger.warning("removing stale postmaster.pid", metadata: ["pid": "\(pid)", "file": "\(pidFile)"])
        do { try FileManager.default.removeItem(atPath: pidFile) } catch {
            throw EmbeddedPostgresError(message: "cannot remove stale \(pidFile): \(error)")
        }
        return nil
    }

    /// `<data>/postgres/run`, or a fresh 0700 `/tmp/berth-pg-XXXXXX` when that is too long for a socket path.
    private nonisolated func chooseSocketDirectory() throws(EmbeddedPostgresError) -> String {
        let preferred = dataDirectory.appendingPathComponent("postgres/run").path
        if "\(preferred)/.s.PGSQL.\(port)".utf8.count < 100 {
            do {
                try FileManager.default.createDirectory(atPath: preferred, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw EmbeddedPostgresError(message: "cannot create socket folder \(preferred): \(error)")
            }
            try chownIfRoot(preferred)
            return preferred
        }
        var template = Array("/tmp/berth-pg-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw EmbeddedPostgresError(message: "cannot create a socket folder under /tmp (errno \(errno))")
        }
        let path = String(cString: made)
        chmod(path, 0o700)
        try chownIfRoot(path)
        return path
    }

    private nonisolated func chownIfRoot(_ path: String) throws(EmbeddedPostgresError) {
        guard geteuid() == 0 else { return }
        guard let account = getpwnam("postgres") else {
            throw EmbeddedPostgresError(message: "running as root needs the `postgres` system user to own the cluster")
        }
        if chown(path, account.pointee.pw_uid, account.pointee.pw_gid) != 0 {
            throw EmbeddedPostgresError(message: "cannot give \(path) to the postgres user (errno \(errno))")
        }
    }

    private nonisolated func write(_ text: String, to path: String) throws(EmbeddedPostgresError) {
        do { try text.write(toFile: path, atomically: false, encoding: .utf8) } catch {
            throw EmbeddedPostgresError(message: "cannot write \(path): \(error)")
        }
        try chownIfRoot(path)
    }

    private nonisolated func append(_ text: String, to path: String) throws(EmbeddedPostgresError) {
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw EmbeddedPostgresError(message: "cannot open \(path) for writing")
        }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
    }

    /// Creates the database if it does not exist, retrying while the server finishes starting.
    private func ensureDatabase(_ configuration: PostgresConfiguration) async throws(EmbeddedPostgresError) {
        let admin = configuration.withDatabase("postgres")
        var lastError: PostgresError?
        for _ in 0..<100 {
            do throws(PostgresError) {
                let connection = try await PostgresConnection.connect(admin, label: "embedded-setup")
                do throws(PostgresError) {
                    let exists = try await connection.query("SELECT 1 FROM pg_database WHERE datname = $1", [.text(database)])
                    if exists.isEmpty {
                        try await connection.execute("CREATE DATABASE \(try await connection.quoteIdentifier(database))")
                    }
                } catch {
                    await connection.close()
                    throw error
                }
                await connection.close()
                return
            } catch {
                lastError = error
                try? await Task.sleep(nanoseconds: 100_000_000)
            }
        }
        throw EmbeddedPostgresError(
            message: "embedded PostgreSQL does not serve: \(lastError.map { "\($0)" } ?? "unknown")",
            outputTail: (try? String(contentsOf: logFile, encoding: .utf8)).map { CommandRunner.tail($0) }
        )
    }

    private nonisolated func blocking<T: Sendable>(
        _ body: @escaping @Sendable () throws(EmbeddedPostgresError) -> T
    ) async throws(EmbeddedPostgresError) -> T {
        let result: Result<T, EmbeddedPostgresError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                do throws(EmbeddedPostgresError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}
