import ArgumentParser
import BerthPluginKit

/// A template's parameters on the command line: `-p key=value` (repeatable) over an optional
/// `--parameters-file`. Shared by `berth template run` and `berth schedule create`.
struct ParameterOptions: ParsableArguments {
    @Option(name: [.customShort("p"), .customLong("param")], help: ArgumentHelp("A parameter (repeatable).", valueName: "key=value"))
    var parameters: [String] = []

    @Option(name: .long, help: "A YAML or JSON file holding the parameters object (-p values go over it).")
    var parametersFile: String?

    /// The parameters object: the file's, then each `-p` (its value read as JSON when it is
    /// JSON — 3, true, [1,2], "text" — else as a string).
    func values() throws -> JSONValue {
        var values = try parametersFile.map { try ObjectFile.read($0, what: "parameters").objectValue ?? [:] } ?? [:]
        for (key, text) in try SubmissionOptions.pairs(parameters, option: "-p") {
            values[key] = (try? JSONValue(parsing: text)) ?? .string(text)
        }
        return .object(values)
    }
}
