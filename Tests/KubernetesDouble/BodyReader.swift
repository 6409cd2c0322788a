import BerthPluginKit

/// Reads a request body's fields with the types the API's Go structs have; a field of the wrong
/// JSON type is a 400, worded as the server's decoder words it.
struct BodyReader: Sendable {
    /// What the body should be (`Job`), for messages.
    let kind: String

    /// The 400 for `value` at `path` that should have been a `goType`.
    func typeError(_ path: String, _ goType: String, _ value: JSONValue) -> APIStatus {
        let found = switch value {
        case .bool: "bool"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        case .null: "null"
        }
        return APIStatus.badRequest(
            "\(kind) in version \"v1\" cannot be handled as a \(kind): json: cannot unmarshal \(found) into Go struct field \(path) of type \(goType)")
    }

    /// The 400 for a body that cannot be used at all.
    func unusable(_ reason: String) -> APIStatus {
        APIStatus.badRequest("\(kind) in version \"v1\" cannot be handled as a \(kind): \(reason)")
    }

    /// An object, or nil when absent or null.
    func object(_ value: JSONValue?, _ path: String) throws(APIStatus) -> [String: JSONValue]? {
        guard let value, value != .null else { return nil }
        guard let object = value.objectValue else { throw typeError(path, "object", value) }
        return object
    }

    /// An array, or nil when absent or null.
    func array(_ value: JSONValue?, _ path: String) throws(APIStatus) -> [JSONValue]? {
        guard let value, value != .null else { return nil }
        guard let array = value.arrayValue else { throw typeError(path, "array", value) }
        return array
    }

    /// A string, or nil when absent or null.
    func string(_ value: JSONValue?, _ path: String) throws(APIStatus) -> String? {
        guard let value, value != .null else { return nil }
        guard let text = value.stringValue else { throw typeError(path, "string", value) }
        return text
    }

    /// An integer, or nil when absent or null.
    func int(_ value: JSONValue?, _ path: String) throws(APIStatus) -> Int? {
        guard let value, value != .null else { return nil }
        guard let number = value.int64Value, let int = Int(exactly: number) else { throw typeError(path, "int64", value) }
        return int
    }

    /// A boolean, or nil when absent or null.
    func bool(_ value: JSONValue?, _ path: String) throws(APIStatus) -> Bool? {
        guard let value, value != .null else { return nil }
        guard let bool = value.boolValue else { throw typeError(path, "bool", value) }
        return bool
    }

    /// A list of strings, or nil when absent or null.
    func strings(_ value: JSONValue?, _ path: String) throws(APIStatus) -> [String]? {
        guard let array = try array(value, path) else { return nil }
        var strings: [String] = []
        for element in array {
            guard let text = element.stringValue else { throw typeError(path, "string", element) }
            strings.append(text)
        }
        return strings
    }

    /// A map of strings (labels), or nil when absent or null.
    func stringMap(_ value: JSONValue?, _ path: String) throws(APIStatus) -> [String: String]? {
        guard let object = try object(value, path) else { return nil }
        var map: [String: String] = [:]
        for (key, member) in object {
            guard let text = member.stringValue else { throw typeError(path, "string", member) }
            map[key] = text
        }
        return map
    }
}
