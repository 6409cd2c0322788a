import ArgumentParser
import BerthClient
import BerthPluginKit

/// `berth events`: an execution's state changes.
struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List an execution's state changes, oldest first.")

    @OptionGroup var client: ClientOptions

    @Argument(help: "The execution's id, or a unique prefix of it.")
    var id: String

    func run() async throws {
        let api = client.client()
        let answer = try await withClientErrors {
            try await api.events(try await IDs.resolve(id, with: api))
        }
        if client.json {
            Terminal.printJSON(answer)
            return
        }
        let rows = Listing.items(answer, keys: ["items", "events"]).map { event in
            [
                Listing.text(event, "seq"), Listing.text(event, "at"),
                "\(Listing.text(event, "from_state")) → \(Listing.text(event, "to_state"))",
                Listing.text(event, "attempt"), Listing.text(event, "reason"),
            ]
        }
        Terminal.line(Terminal.table(["SEQ", "AT", "CHANGE", "ATTEMPT", "REASON"], rows))
    }
}
