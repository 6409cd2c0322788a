/// One schema migration: a version, a name and the SQL, embedded in the binary.
public struct Migration: Sendable, Hashable {
    /// The version, from the file name's number; applied in increasing order.
    public let version: Int
    /// The name, from the file name after the number.
    public let name: String
    /// The SQL text; may hold several statements.
    public let sql: String

    /// Creates a migration.
    /// - Parameters:
    ///   - version: The version.
    ///   - name: The name.
    ///   - sql: The SQL text.
    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// A 64-bit FNV-1a checksum of the SQL, hex, stored to detect an edited migration.
    public var checksum: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in sql.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    /// Berth's migrations, embedded from `Sources/BerthPostgres/Migrations/NNNN_name.sql`
    /// (SwiftPM's `embedInCode` names `0001_initial.sql` `PackageResources._001_initial_sql`).
    /// A test checks that this list matches the folder.
    public static let all: [Migration] = [
        Migration(version: 1, name: "initial", sql: String(decoding: PackageResources._001_initial_sql, as: UTF8.self)),
        Migration(version: 2, name: "failover", sql: String(decoding: PackageResources._002_failover_sql, as: UTF8.self)),
        Migration(version: 3, name: "tokens", sql: String(decoding: PackageResources._003_tokens_sql, as: UTF8.self)),
        Migration(version: 4, name: "secret_env", sql: String(decoding: PackageResources._004_secret_env_sql, as: UTF8.self)),
        Migration(version: 5, name: "outputs", sql: String(decoding: PackageResources._005_outputs_sql, as: UTF8.self)),
        Migration(version: 6, name: "inputs_artifacts", sql: String(decoding: PackageResources._006_inputs_artifacts_sql, as: UTF8.self)),
        Migration(version: 7, name: "webhooks", sql: String(decoding: PackageResources._007_webhooks_sql, as: UTF8.self)),
        Migration(version: 8, name: "templates", sql: String(decoding: PackageResources._008_templates_sql, as: UTF8.self)),
        Migration(version: 9, name: "host_selector", sql: String(decoding: PackageResources._009_host_selector_sql, as: UTF8.self)),
        Migration(version: 10, name: "schedules", sql: String(decoding: PackageResources._010_schedules_sql, as: UTF8.self)),
    ]
}
