import Foundation
import Glibc

/// Runs the cluster's commands with Foundation's `Process`, as the `postgres` system user when
/// the server runs as root (PostgreSQL refuses to run as root). Output goes to a file, not a
/// pipe, so a server process that inherits it can never block us.
struct CommandRunner: Sendable {
    /// The outcome of one command.
    struct Outcome: Sendable {
        var status: Int32
        var output: String
    }

    /// The system user to run as, when running as root.
    let runAsUser: String?
    /// Where command output is captured.
    let outputFile: URL

    /// Runs `executable arguments…` and waits.
    func run(_ executable: String, _ arguments: [String]) throws(EmbeddedPostgresError) -> Outcome {
        let process = Process()
        // Foundation's Process learns that a child exited through a socket the child inherits;
        // `pg_ctl start` leaves a daemon that would keep it open forever, and the wait would
        // never end. So the command runs through bash, which first closes every fd above 2.
        var commandLine = ["/bin/bash", "-c", Self.closeInheritedDescriptors, "berth-run", executable] + arguments
        if let runAsUser {
            guard let runuser = Self.firstExisting(["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"]) else {
                throw EmbeddedPostgresError(message: "running as root needs runuser(1) to run PostgreSQL as \(runAsUser)")
            }
            commandLine = [runuser, "-u", runAsUser, "--"] + commandLine
        }
        process.executableURL = URL(fileURLWithPath: commandLine[0])
        process.arguments = Array(commandLine.dropFirst())
        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C"
        environment.removeValue(forKey: "PGDATA")
        process.environment = environment
        _ = FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        let output: FileHandle
        do {
            output = try FileHandle(forWritingTo: outputFile)
        } catch {
            throw EmbeddedPostgresError(message: "cannot write command output to \(outputFile.path): \(error)")
        }
        defer { try? output.close() }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        let printable = ([executable] + arguments).joined(separator: " ")
        do {
            try process.run()
        } catch {
            throw EmbeddedPostgresError(message: "cannot run command (\(error))", command: printable)
        }
        process.waitUntilExit()
        let text = (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
        return Outcome(status: process.terminationStatus, output: text)
    }

    /// Runs a command and throws, naming it, its exit code and its output's tail, unless it exits 0.
    @discardableResult
    func check(_ executable: String, _ arguments: [String], logFile: URL? = nil) throws(EmbeddedPostgresError) -> String {
        let outcome = try run(executable, arguments)
        guard outcome.status == 0 else {
            var tail = Self.tail(outcome.output)
            if let logFile, let log = try? String(contentsOf: logFile, encoding: .utf8) {
                tail += "\n--- \(logFile.path) ---\n" + Self.tail(log)
            }
            throw EmbeddedPostgresError(
                message: "command failed", command: ([executable] + arguments).joined(separator: " "),
                exitCode: outcome.status, outputTail: tail
            )
        }
        return outcome.output
    }

    /// Closes inherited descriptors above 2, then runs `"$@"`.
    static let closeInheritedDescriptors = #"for fd in /proc/$$/fd/*; do fd=${fd##*/}; if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi; done; exec "$@""#

    /// The last `lines` lines of a text.
    static func tail(_ text: String, lines: Int = 20) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    static func firstExisting(_ paths: [String]) -> String? {
        paths.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}
