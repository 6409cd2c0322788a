public import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A finished process: its status and what it wrote.
public struct ProcessOutput: Sendable {
    /// The exit status.
    public var status: Int32
    /// What it wrote to stdout.
    public var stdout: String
    /// What it wrote to stderr.
    public var stderr: String
}

/// A child process whose stdout and stderr go to files, not pipes: a grandchild that inherits
/// a pipe (the embedded PostgreSQL does) would keep it open and stall whoever reads it to EOF.
public final class Subprocess: Sendable {
    /// The process.
    public let process: Process
    /// The file its stdout goes to.
    public let stdoutFile: URL
    /// The file its stderr goes to.
    public let stderrFile: URL
    private let statuses: AsyncStream<Int32>

    /// The `berth` binary built next to the test bundle.
    public static var berth: String { TestEnvironment.pluginFolder + "/berth" }

    /// Starts `executable` with `arguments` (in `workingDirectory`, when given); `environment` is
    /// added to this process's.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], workingDirectory: URL? = nil) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("berth-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        stdoutFile = folder.appendingPathComponent("stdout")
        stderrFile = folder.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: stdoutFile)
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        let (statuses, continuation) = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { process in
            continuation.yield(process.terminationStatus)
            continuation.finish()
        }
        self.statuses = statuses
        self.process = process
        try process.run()
    }

    deinit {
        try? FileManager.default.removeItem(at: stdoutFile.deletingLastPathComponent())
    }

    /// Runs `berth` with `arguments` to the end (killing it after `timeout` seconds).
    public static func berth(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 60) async throws -> ProcessOutput {
        let child = try Subprocess(berth, arguments, environment: environment)
        return try await child.wait(timeout: timeout)
    }

    /// What was written to stdout so far.
    public var stdout: String { (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? "" }
    /// What was written to stderr so far.
    public var stderr: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }

    /// Sends `signal` to the process.
    public func signal(_ number: Int32) {
        kill(process.processIdentifier, number)
    }

    /// Waits for the process to end; after `timeout` seconds it is killed and this throws.
    public func wait(timeout: Double) async throws -> ProcessOutput {
        let pid = process.processIdentifier
        let killer = Task { () -> Bool in
            do { try await Task.sleep(for: .seconds(timeout)) } catch { return false }
            kill(pid, SIGKILL)
            return true
        }
        var status: Int32 = -1
        for await value in statuses { status = value }
        killer.cancel()
        if await killer.value {
            let command = ([process.executableURL?.path ?? ""] + (process.arguments ?? [])).joined(separator: " ")
            throw TimeoutError(description: "\(command) did not end within \(timeout) s; stderr: \(stderr)")
        }
        return ProcessOutput(status: status, stdout: stdout, stderr: stderr)
    }

    /// A process that did not end in time (or did not start serving).
    public struct TimeoutError: Error, CustomStringConvertible {
        /// What did not happen, with the process's stderr.
        public var description: String

        /// An error saying `description`.
        public init(description: String) {
            self.description = description
        }
    }
}

/// A fresh temporary folder, readable by others (the embedded cluster runs as `postgres`).
public func temporaryFolder(_ prefix: String) throws -> URL {
    let folder = URL(fileURLWithPath: "/tmp").appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8).lowercased())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
    return folder
}
