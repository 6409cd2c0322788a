import ArgumentParser
import BerthClient
import BerthPluginKit
import BerthYAML
import Foundation

/// `berth template create|list|show|deprecate|run`: the template catalog (docs/templates.md).
struct TemplateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template", abstract: "Register, list, show, deprecate and run execution templates.",
        subcommands: [Create.self, List.self, Show.self, Deprecate.self, RunTemplate.self])

    /// `berth template create FILE`.
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a template from a YAML or JSON file ({name, description, spec, parameters_schema}); prints its new version.")

        @OptionGroup var client: ClientOptions

        @Argument(help: "The template file.")
        var file: String

        func run() async throws {
            let body = try ObjectFile.read(file, what: "template")
            let api = client.client()
            let created = try await withClientErrors { try await api.send("POST", "/v1/templates", body: body) }
            if client.json { Terminal.printJSON(created) } else { Terminal.line(created["ref"]?.stringValue ?? "") }
        }
    }

    /// `berth template list [--name N]`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List template versions, by name, newest version first.")

        @OptionGroup var client: ClientOptions

        @Option(name: .long, help: "Only this template's versions.")
        var name: String?

        func run() async throws {
            let api = client.client()
            let path = "/v1/templates" + (name.map { "?name=" + BerthClient.escape($0) } ?? "")
            let answer = try await withClientErrors { try await api.send("GET", path) }
            if client.json {
                Terminal.printJSON(answer)
                return
            }
            let rows = (answer["items"]?.arrayValue ?? []).map { template in
                [
                    template["ref"]?.stringValue ?? "-", template["spec"]?["image"]?.stringValue ?? "-",
                    template["deprecated_at"]?.stringValue.map { _ in "deprecated" } ?? "active",
                    template["created_by"]?.stringValue ?? "-", template["description"]?.stringValue ?? "",
                ]
            }
            Terminal.line(Terminal.table(["TEMPLATE", "IMAGE", "STATE", "CREATED BY", "DESCRIPTION"], rows))
        }
    }

    /// `berth template show REF`.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one template version as JSON (name@3, or name for the newest not deprecated).")

        @OptionGroup var client: ClientOptions

        @Argument(help: "The template: name@version, name@latest or name.")
        var reference: String

        func run() async throws {
            let api = client.client()
            Terminal.printJSON(try await withClientErrors { try await api.send("GET", "/v1/templates/" + BerthClient.escape(reference)) })
        }
    }

    /// `berth template deprecate NAME@VERSION [--reason R]`.
    struct Deprecate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deprecate one template version: name@latest skips it; runs naming it still work.")

        @OptionGroup var client: ClientOptions

        @Argument(help: "The version: name@version.")
        var reference: String

        @Option(name: .long, help: "Why (shown with the template).")
        var reason: String?

        func run() async throws {
            let api = client.client()
            let body: JSONValue = reason.map { ["reason": .string($0)] } ?? [:]
            let answer = try await withClientErrors {
                try await api.send("POST", "/v1/templates/" + BerthClient.escape(reference) + "/deprecate", body: body)
            }
            if client.json { Terminal.printJSON(answer) } else { Terminal.line("\(answer["ref"]?.stringValue ?? reference) deprecated") }
        }
    }

    /// `berth template run REF [-p KEY=VALUE]… [--parameters-file F]`.
    struct RunTemplate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run a template with parameters: submit, follow the output, exit with the execution's exit code (as berth run).",
            discussion: "A -p value is read as JSON when it is JSON (3, true, [1,2], \"text\"), else as a string.")

        @OptionGroup var client: ClientOptions

        @Argument(help: "The template: name@version, name@latest or name.")
        var reference: String

        @OptionGroup var parameters: ParameterOptions

        @Option(name: .long, help: "A name for the execution.")
        var name: String?

        @Option(name: .long, help: ArgumentHelp("A label (repeatable).", valueName: "key=value"))
        var label: [String] = []

        @Flag(name: [.short, .long], help: "Print the id and return at once instead of following the output.")
        var detach = false

        func run() async throws {
            var body: [String: JSONValue] = ["template": .string(reference), "parameters": try parameters.values()]
            if let name { body["name"] = .string(name) }
            let labels = try SubmissionOptions.pairs(label, option: "--label")
            if !labels.isEmpty { body["labels"] = JSONValue(labels) }
            let api = client.client()
            let created = try ExecutionView(try await withClientErrors { try await api.send("POST", "/v1/executions", body: .object(body)) })
            if detach {
                if client.json { Terminal.printJSON(created.json) } else { Terminal.line(created.id) }
                return
            }
            try await Run.followToTheEnd(created.id, client: api, json: client.json)
        }
    }
}
