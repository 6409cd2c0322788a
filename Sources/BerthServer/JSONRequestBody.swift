import BerthPluginKit

/// Reads a JSON object request body the same way for every route that takes one.
enum JSONRequestBody {
    /// Parses `bytes` as a JSON object whose members are all in `allowed`, and hands it to
    /// `read`.
    /// - Throws: ``Problem``: 400 `malformed_json` when the body is not JSON (naming the byte, and
    ///   the field when the fault is inside one); 422 for anything else, naming the field:
    ///   `duplicate_field` (an object holding a key twice, which JSON parsers resolve
    ///   differently), `unknown_field`, `missing_field` (a ``JSONError`` saying "is required"),
    ///   `invalid_field` (any other ``JSONError``), or the ``Problem`` `read` threw.
    static func read<T>(_ bytes: [UInt8], allowed: Set<String>, _ read: (JSONObjectReader) throws -> T) throws(Problem) -> T {
        try Self.read(try parse(bytes), allowed: allowed, read)
    }

    /// Parses `bytes` as JSON: 400 `malformed_json`, or 422 `duplicate_field`.
    static func parse(_ bytes: [UInt8]) throws(Problem) -> JSONValue {
        do {
            return try JSONValue(parsing: bytes)
        } catch where error.reason == JSONError.duplicateKey {
            throw Problem.invalid(error.path, "appears more than once in its object", code: "duplicate_field")
        } catch {
            throw Problem.malformedJSON("the body is not valid JSON: \(error)", field: error.path.isEmpty ? nil : error.path)
        }
    }

    /// ``read(_:allowed:_:)`` of a document already parsed.
    static func read<T>(_ document: JSONValue, allowed: Set<String>, _ read: (JSONObjectReader) throws -> T) throws(Problem) -> T {
        do {
            let reader = try JSONObjectReader(document, path: "")
            for key in reader.members.keys.sorted() where !allowed.contains(key) {
                throw Problem.invalid(key, "unknown field; allowed: \(allowed.sorted().joined(separator: ", "))", code: "unknown_field")
            }
            return try read(reader)
        } catch let problem as Problem {
            throw problem
        } catch let error as JSONError {
            throw Problem.invalid(
                error.location.isEmpty ? "$" : error.location, error.reason,
                code: error.reason == "is required" ? "missing_field" : "invalid_field")
        } catch {
            throw Problem.invalid("$", "\(error)")
        }
    }
}
