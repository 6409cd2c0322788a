import ArgumentParser
import BerthClient
import BerthPluginKit

/// `berth token create|list|revoke`: API tokens (an admin token is needed).
struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage API tokens (needs an admin token).",
        subcommands: [Create.self, List.self, Revoke.self])

    /// `berth token create NAME --role ROLE`.
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token and print its secret (shown this once only).")

        @OptionGroup var client: ClientOptions

        @Argument(help: "A name for the token (1 to 100 characters).")
        var name: String

        @Option(name: .long, help: "admin, submitter or viewer.")
        var role: String

        @Option(name: .long, help: "Whose executions it submits and sees (default: the name).")
        var owner: String?

        @Option(name: .customLong("expires-in"), help: ArgumentHelp("Seconds until it stops working (default: never).", valueName: "seconds"))
        var expiresIn: Int?

        func validate() throws {
            guard ["admin", "submitter", "viewer"].contains(role) else {
                throw ValidationError("--role must be admin, submitter or viewer, not '\(role)'")
            }
            if let expiresIn, expiresIn <= 0 { throw ValidationError("--expires-in must be greater than 0") }
        }

        func run() async throws {
            var body: [String: JSONValue] = ["name": .string(name), "role": .string(role)]
            if let owner { body["owner"] = .string(owner) }
            if let expiresIn { body["expires_in_seconds"] = .number(Double(expiresIn)) }
            let api = client.client()
            let created = try await withClientErrors { try await api.send("POST", "/v1/tokens", body: .object(body)) }
            if client.json {
                Terminal.printJSON(created)
                return
            }
            Terminal.line(created["token"]?.stringValue ?? "")
            Terminal.error("token \(created["id"]?.stringValue ?? "?") (\(role), owner \(created["owner"]?.stringValue ?? "?")) created; its secret is shown only now")
        }
    }

    /// `berth token list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tokens (never their secrets).")

        @OptionGroup var client: ClientOptions

        func run() async throws {
            let api = client.client()
            let answer = try await withClientErrors { try await api.send("GET", "/v1/tokens") }
            if client.json {
                Terminal.printJSON(answer)
                return
            }
            let rows = Listing.items(answer, keys: ["items"]).map { token in
                let state = token["revoked_at"]?.stringValue != nil ? "revoked" : "active"
                return [
                    Listing.text(token, "id"), Listing.text(token, "name"), Listing.text(token, "role"), Listing.text(token, "owner"),
                    state, Listing.text(token, "last_used_at"), Listing.text(token, "expires_at"),
                ]
            }
            Terminal.line(Terminal.table(["ID", "NAME", "ROLE", "OWNER", "STATE", "LAST USED", "EXPIRES"], rows))
        }
    }

    /// `berth token revoke ID`.
    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token; the next request with it is refused.")

        @OptionGroup var client: ClientOptions

        @Argument(help: "The token's id (from `berth token list`).")
        var id: String

        func run() async throws {
            let api = client.client()
            let token = try await withClientErrors { try await api.send("POST", "/v1/tokens/\(id)/revoke") }
            if client.json {
                Terminal.printJSON(token)
            } else {
                Terminal.line("\(Listing.text(token, "id")) revoked")
            }
        }
    }
}
