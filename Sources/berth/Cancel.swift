import ArgumentParser
import BerthClient

/// `berth cancel`: stop an execution.
struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cancel an execution (a queued one at once, a running one by stopping it).")

    @OptionGroup var client: ClientOptions

    @Argument(help: "The execution's id, or a unique prefix of it.")
    var id: String

    func run() async throws {
        let api = client.client()
        let execution = try await withClientErrors {
            try await api.cancel(try await IDs.resolve(id, with: api))
        }
        if client.json {
            Terminal.printJSON(execution.json)
        } else {
            Terminal.line("\(execution.id) \(execution.state)")
        }
    }
}
