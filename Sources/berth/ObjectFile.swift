import BerthPluginKit
import BerthYAML
import Foundation

/// A JSON object read from a YAML or JSON file given on the command line (plugin settings,
/// templates, parameters); every failure is one line on stderr and exit status 1.
enum ObjectFile {
    /// The object in `path`; `what` names it in messages (`settings`, `template`).
    static func read(_ path: String, what: String) throws -> JSONValue {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            Terminal.error("cannot read the \(what) file \(path): \(error.localizedDescription)")
            throw ExitCodes.failure
        }
        do {
            let value = try JSONValue(yaml: text, file: path)
            guard value.objectValue != nil else {
                Terminal.error("\(path): the \(what) must be an object, found \(value.typeName)")
                throw ExitCodes.failure
            }
            return value
        } catch let error as YAMLError {
            Terminal.error(error.description)
            throw ExitCodes.failure
        }
    }
}
