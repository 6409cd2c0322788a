public import ArgumentParser
import BerthClient
import BerthPluginKit

/// `berth logs`: an execution's output.
struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print an execution's output: its stdout to stdout, its stderr to stderr.")

    @OptionGroup var client: ClientOptions

    @Flag(name: [.short, .long], help: "Keep following until the execution ends.")
    var follow = false

    @Option(name: .long, help: "Only this stream: stdout or stderr.")
    var stream: BerthClient.StreamFilter?

    @Option(name: .long, help: "Only output written at or after this RFC 3339 time.")
    var since: String?

    @Argument(help: "The execution's id, or a unique prefix of it.")
    var id: String

    func run() async throws {
        let api = client.client()
        try await withClientErrors {
            let id = try await IDs.resolve(id, with: api)
            // The status line only while following: a plain read prints the output as stored.
            let status = follow && !client.json ? LiveStatus.onTerminal(for: id) : nil
            let refreshing = status?.refreshing(from: api)
            defer {
                refreshing?.cancel()
                status?.finish()
            }
            for try await line in api.logs(id, follow: follow, stream: stream, since: since) {
                if client.json {
                    Terminal.line(line.json.jsonText)
                } else if let status {
                    status.write(line)
                } else {
                    Terminal.write(Array(line.data.utf8), to: line.stream == .stderr ? 2 : 1)
                }
            }
        }
    }
}

extension BerthClient.StreamFilter: ExpressibleByArgument {}
