import Foundation

/// Finds the PostgreSQL server binaries (`initdb`, `pg_ctl`).
enum PostgresBinaries {
    /// The bin folder: the configured one, else `pg_config --bindir`, else the newest
    /// `/usr/lib/postgresql/*/bin`.
    static func locate(configured: String?) throws(EmbeddedPostgresError) -> String {
        if let configured {
            guard hasServer(configured) else {
                throw EmbeddedPostgresError(message: "no initdb and pg_ctl in the configured PostgreSQL bin folder \(configured)")
            }
            return configured
        }
        if let fromPgConfig = pgConfigBinDir(), hasServer(fromPgConfig) { return fromPgConfig }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap { name -> (Double, String)? in Double(name).map { ($0, "\(root)/\(name)/bin") } }
            .sorted { $0.0 > $1.0 }
        if let newest = versions.first(where: { hasServer($0.1) }) { return newest.1 }
        throw EmbeddedPostgresError(
            message: "no PostgreSQL server binaries found (tried the configured folder, `pg_config --bindir` and /usr/lib/postgresql/*/bin); install postgresql or set the bin folder"
        )
    }

    private static func hasServer(_ folder: String) -> Bool {
        FileManager.default.isExecutableFile(atPath: "\(folder)/initdb")
            && FileManager.default.isExecutableFile(atPath: "\(folder)/pg_ctl")
    }

    private static func pgConfigBinDir() -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["pg_config", "--bindir"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        let path = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return path.isEmpty ? nil : path
    }
}
