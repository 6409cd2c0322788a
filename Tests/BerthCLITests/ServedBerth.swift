import BerthTestSupport
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A `berth serve` process with an embedded PostgreSQL in a fresh folder, started from the YAML
/// of its hosts and other settings (which `settings` may write files of its own in the folder
/// for); `listen`, `database` and `data_dir` are added.
final class ServedBerth {
    let folder: URL
    let url: String
    let process: Subprocess
    /// The first admin token the server wrote.
    let token: String
    /// `data_dir/admin.token`.
    var tokenFile: String { folder.path + "/data/admin.token" }

    /// Starts the server and waits until it serves.
    init(_ prefix: String, settings: (_ folder: URL) throws -> String) async throws {
        folder = try temporaryFolder(prefix)
        let port = try freePort()
        url = "http://127.0.0.1:\(port)"
        let configFile = folder.appendingPathComponent("berth.yaml")
        try """
            listen: {host: 127.0.0.1, port: \(port)}
            database: {url: null}
            data_dir: \(folder.path)/data

            """.appending(try settings(folder)).write(to: configFile, atomically: true, encoding: .utf8)
        process = try Subprocess(Subprocess.berth, ["serve", "--config", configFile.path])
        for _ in 0..<600 where !process.stdout.contains("Berth is serving on \(url)") && process.process.isRunning {
            try await Task.sleep(for: .milliseconds(100))
        }
        guard process.stdout.contains("Berth is serving on \(url)") else {
            process.signal(SIGKILL)
            throw Subprocess.TimeoutError(description: "berth serve did not start:\n\(process.stdout)\n\(process.stderr)")
        }
        token = try String(contentsOfFile: folder.path + "/data/admin.token", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops the server with SIGTERM and returns its exit status.
    func stop() async throws -> Int32 {
        process.signal(SIGTERM)
        return try await process.wait(timeout: 60).status
    }

    deinit {
        process.signal(SIGKILL)
        try? FileManager.default.removeItem(at: folder)
    }
}
