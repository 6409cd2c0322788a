import ArgumentParser
import BerthClient
import BerthPluginKit

/// `berth hosts`: the target hosts.
struct Hosts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the target hosts and their state.")

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let api = client.client()
        let answer = try await withClientErrors { try await api.hosts() }
        if client.json {
            Terminal.printJSON(answer)
            return
        }
        let rows = Listing.items(answer, keys: ["items", "hosts"]).map { host -> [String] in
            let health: String = switch host["health"]?["ok"]?.boolValue {
            case true?: "ok"
            case false?: "unhealthy"
            case nil: "-"
            }
            let capacity = host["capacity"]
            let load = capacity.map { "\(Listing.text($0, "running"))/\(Listing.text($0, "max_concurrent"))" } ?? "-"
            let message = host["error"]?["message"]?.stringValue ?? host["health"]?["message"]?.stringValue ?? "-"
            return [Listing.text(host, "name"), Listing.text(host, "plugin"), health, load, message]
        }
        let style = TerminalStyle.of(1)
        Terminal.line(Terminal.table(["NAME", "PLUGIN", "HEALTH", "RUNNING", "MESSAGE"], rows) { column, cell, padded in
            column == 2 ? style.paint(padded, cell == "ok" ? .green : cell == "unhealthy" ? .red : nil) : padded
        })
    }
}

/// `berth plugins`: the loaded plugins.
struct Plugins: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the plugins the server loaded.")

    @OptionGroup var client: ClientOptions

    func run() async throws {
        let api = client.client()
        let answer = try await withClientErrors { try await api.plugins() }
        if client.json {
            Terminal.printJSON(answer)
            return
        }
        let rows = Listing.items(answer, keys: ["items", "plugins"]).map { plugin in
            [
                Listing.text(plugin, "name"), Listing.text(plugin, "version"),
                Listing.text(plugin, "abi_version"), Listing.text(plugin, "file"),
                Listing.text(plugin, "error"),
            ]
        }
        Terminal.line(Terminal.table(["NAME", "VERSION", "ABI", "FILE", "ERROR"], rows))
    }
}

/// Reading list answers whose exact shape varies: an array, or an object holding one.
enum Listing {
    /// The elements of `answer` itself or of its first member named in `keys`.
    static func items(_ answer: JSONValue, keys: [String]) -> [JSONValue] {
        if let array = answer.arrayValue { return array }
        for key in keys { if let array = answer[key]?.arrayValue { return array } }
        return []
    }

    /// The first of `keys` that is set, as text; `-` when none is.
    static func text(_ object: JSONValue, _ keys: String...) -> String {
        for key in keys {
            guard let value = object[key], value != .null else { continue }
            switch value {
            case .string(let text): return text
            case .object(let members):
                if let message = members["message"]?.stringValue { return message }
                return value.jsonText
            default: return value.jsonText
            }
        }
        return "-"
    }
}
