import ArgumentParser
import BerthClient

/// `berth submit`: queue an execution and print its id.
struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Submit an execution and print its id (or, with --json, the execution).")

    @OptionGroup var client: ClientOptions
    @OptionGroup var submission: SubmissionOptions

    func run() async throws {
        let body = try submission.body()
        let api = client.client()
        let execution = try await withClientErrors {
            try await api.submit(body, idempotencyKey: submission.idempotencyKey)
        }
        if client.json {
            Terminal.printJSON(execution.json)
        } else {
            Terminal.line(execution.id)
        }
    }
}
