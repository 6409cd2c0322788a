import ArgumentParser
import BerthClient
import BerthConfiguration
import Foundation

/// The options every client command shares.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The server's base URL (default: $BERTH_URL, else http://127.0.0.1:8080).", valueName: "url"))
    var url: String?

    @Option(name: .long, help: ArgumentHelp(
        "An API token (default: $BERTH_TOKEN, else for a server on this machine the file $BERTH_TOKEN_FILE, else <data_dir>/admin.token).",
        valueName: "token"))
    var token: String?

    @Option(name: .customLong("ca-file"), help: ArgumentHelp(
        "For an https:// server: PEM certificates to trust instead of the system's (default: $BERTH_CA_FILE).", valueName: "file"))
    var caFile: String?

    @Flag(name: .long, help: "Print the server's JSON instead of text.")
    var json = false

    /// The base URL: `--url`, else `BERTH_URL`, else the default.
    var baseURL: String {
        url ?? BerthClient.url(from: ProcessInfo.processInfo.environment)
    }

    /// A client of ``baseURL`` with ``resolvedToken``, trusting `--ca-file` (else
    /// `BERTH_CA_FILE`) when given.
    func client() -> BerthClient {
        let file = caFile ?? ProcessInfo.processInfo.environment["BERTH_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        let pem = file.flatMap { FileManager.default.contents(atPath: $0) }.map { [UInt8]($0) }
        return BerthClient(baseURL: baseURL, token: resolvedToken, certificateAuthorityPEM: pem)
    }

    /// `--token`, else `BERTH_TOKEN`; else, when the server is on this machine (a loopback
    /// URL), the first line of `BERTH_TOKEN_FILE`, else of the admin token file that
    /// `berth serve` wrote in its data folder (`data_dir` of `BERTH_CONFIG`, else the default).
    var resolvedToken: String? {
        let environment = ProcessInfo.processInfo.environment
        if let token, !token.isEmpty { return token }
        if let token = environment["BERTH_TOKEN"], !token.isEmpty { return token }
        guard Self.isLoopback(baseURL) else { return nil }
        let file = environment["BERTH_TOKEN_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (try? BerthConfig.load(file: environment["BERTH_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }, environment: environment))?.adminTokenFile
        guard let file, let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        return text.split(whereSeparator: \.isNewline).first.map(String.init)
    }

    /// Whether `url` names this machine: `localhost`, `127.x.x.x` or `[::1]`.
    static func isLoopback(_ url: String) -> Bool {
        guard let host = URLComponents(string: url)?.host?.lowercased() else { return false }
        return host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
    }
}

/// Exit codes of the client commands (docs/cli.md).
enum ExitCodes {
    /// The server answered with an error, or the command failed.
    static let failure = ExitCode(1)
    /// The server could not be reached (`EX_UNAVAILABLE`).
    static let unreachable = ExitCode(69)
    /// `berth run`: the execution failed without an exit code (it never started) or was lost.
    static let notStarted = ExitCode(125)
    /// `berth run`: the execution ran past its timeout.
    static let timedOut = ExitCode(124)
    /// `berth run`: the execution was cancelled.
    static let cancelled = ExitCode(130)
}

/// Runs a client command's body, printing any ``ClientError`` as one line on stderr and
/// turning it into the command's exit code.
func withClientErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as ClientError {
        throw report(error)
    }
}

/// Prints `error` as one line on stderr and returns the exit code for it.
func report(_ error: ClientError) -> ExitCode {
    switch error {
    case .unreachable(let url, let message):
        Terminal.error("cannot reach the Berth server at \(url): \(message) (set BERTH_URL)")
        return ExitCodes.unreachable
    case .api(let problem):
        Terminal.error(problem.description)
        return ExitCodes.failure
    case .invalidResponse, .transport:
        Terminal.error(error.description)
        return ExitCodes.failure
    }
}
