import ArgumentParser
import BerthClient
import Foundation

/// The options every client command shares.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The server's base URL (default: $BERTH_URL, else http://127.0.0.1:8080).", valueName: "url"))
    var url: String?

    @Option(name: .long, help: ArgumentHelp("A bearer token for the server (default: $BERTH_TOKEN).", valueName: "token"))
    var token: String?

    @Flag(name: .long, help: "Print the server's JSON instead of text.")
    var json = false

    /// The base URL: `--url`, else `BERTH_URL`, else the default.
    var baseURL: String {
        url ?? BerthClient.url(from: ProcessInfo.processInfo.environment)
    }

    /// A client of ``baseURL``, with `--token`, else `BERTH_TOKEN`, when set.
    func client() -> BerthClient {
        BerthClient(baseURL: baseURL, token: token ?? ProcessInfo.processInfo.environment["BERTH_TOKEN"])
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
