import Dispatch
import Foundation
import Synchronization

/// One PostgreSQL connection whose blocking libpq calls run on its own serial `DispatchQueue`,
/// never on Swift's cooperative thread pool; each call is bridged back with a continuation.
///
/// Lease one from ``PostgresConnectionPool``; do not share a leased connection between tasks.
// Safety: `connection` (the only mutable state besides the atomic `reusable`) is touched only
// inside `queue.async` blocks on the serial `queue`, so no two threads use the libpq handle at
// once. `label` is immutable.
public final class PostgresConnection: @unchecked Sendable {
    private let queue: DispatchQueue
    private let connection: LibPQConnection
    /// ``isReusable``, written on the queue after every call.
    private let reusable = Atomic<Bool>(true)
    /// A name for logs: `postgres-<n>`.
    public let label: String

    private init(queue: DispatchQueue, connection: LibPQConnection, label: String) {
        self.queue = queue
        self.connection = connection
        self.label = label
    }

    /// Opens a connection on a new serial queue.
    /// - Parameters:
    ///   - configuration: Where to connect.
    ///   - label: A name for logs and the queue.
    public static func connect(
        _ configuration: PostgresConfiguration, label: String = "postgres"
    ) async throws(PostgresError) -> PostgresConnection {
        let queue = DispatchQueue(label: "berth.\(label)")
        let result: Result<LibPQConnection, PostgresError> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(PostgresError) {
                    continuation.resume(returning: .success(try LibPQConnection(configuration: configuration)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return PostgresConnection(queue: queue, connection: try result.get(), label: label)
    }

    /// Runs one parameterised statement (`$1`, `$2`, …) and returns its rows.
    /// - Parameters:
    ///   - sql: The statement, with `$n` placeholders.
    ///   - parameters: One value per placeholder; `nil` is SQL NULL.
    @discardableResult
    public func query(_ sql: String, _ parameters: [PostgresBind?] = []) async throws(PostgresError) -> PostgresRows {
        try await run { connection throws(PostgresError) in try connection.query(sql, parameters) }
    }

    /// Runs statements that take no parameters, possibly several separated by `;` (migrations).
    /// - Parameter sql: The statements; must not contain values from outside.
    public func execute(_ sql: String) async throws(PostgresError) {
        try await run { connection throws(PostgresError) in try connection.execute(sql) }
    }

    /// Quotes an identifier (for statements that take no parameters, such as `CREATE DATABASE`).
    /// - Parameter name: The identifier.
    public func quoteIdentifier(_ name: String) async throws(PostgresError) -> String {
        try await run { connection throws(PostgresError) in try connection.quoteIdentifier(name) }
    }

    /// Whether the connection was open and outside any transaction after its last call: safe to
    /// hand to the next user. Recorded on the queue after each call, so asking costs no hop.
    public var isReusable: Bool { reusable.load(ordering: .acquiring) }

    /// The server process id of this session.
    public func backendPID() async -> Int32 {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.connection.backendPID) }
        }
    }

    /// Closes the connection.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                self.connection.close()
                continuation.resume()
            }
        }
    }

    private func run<T: Sendable>(
        _ body: @escaping @Sendable (LibPQConnection) throws(PostgresError) -> T
    ) async throws(PostgresError) -> T {
        let result: Result<T, PostgresError> = await withCheckedContinuation { continuation in
            queue.async {
                let result: Result<T, PostgresError>
                do throws(PostgresError) {
                    result = .success(try body(self.connection))
                } catch {
                    result = .failure(error)
                }
                self.reusable.store(self.connection.isHealthy && self.connection.isIdle, ordering: .releasing)
                continuation.resume(returning: result)
            }
        }
        return try result.get()
    }
}
