import ArgumentParser
import BerthClient
import BerthPluginKit

/// `berth result`: the result an execution reported.
struct ResultCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "result",
        abstract: "Print the result an execution reported, as JSON.",
        discussion: """
            The execution reports it with a line '::berth::result {json}' on stdout, or (on Docker \
            hosts) by writing /berth/out/result.json. Only the reported object is printed, so it \
            can be piped to jq; --json prints the attempt, source and time with it. Exits 1 \
            when there is no result.
            """)

    @OptionGroup var client: ClientOptions

    @Argument(help: "The execution's id, or a unique prefix of it.")
    var id: String

    func run() async throws {
        try await ReportPrinter.print(.result, id: id, client: client)
    }
}

/// `berth progress`: the latest progress an execution reported.
struct ProgressCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "progress",
        abstract: "Print the latest progress an execution reported, as JSON.",
        discussion: """
            The execution reports progress with lines '::berth::progress {json}' on stdout; the \
            latest one is kept. Only the reported object is printed; --json prints the attempt, \
            source and time with it. Exits 1 when there is none.
            """)

    @OptionGroup var client: ClientOptions

    @Argument(help: "The execution's id, or a unique prefix of it.")
    var id: String

    func run() async throws {
        try await ReportPrinter.print(.progress, id: id, client: client)
    }
}

/// What `berth result` and `berth progress` share.
enum ReportPrinter {
    /// The two kinds of report, by their route name.
    enum Kind: String {
        case progress, result
    }

    /// Fetches and prints the report of `kind`.
    static func print(_ kind: Kind, id: String, client: ClientOptions) async throws {
        let api = client.client()
        let answer = try await withClientErrors {
            try await api.report(kind.rawValue, of: try await IDs.resolve(id, with: api))
        }
        Terminal.printJSON(client.json ? answer : answer[kind.rawValue] ?? .null)
    }
}
