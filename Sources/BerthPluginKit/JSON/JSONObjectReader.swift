/// Reads the members of a JSON object by name, with errors that name the field's full path
/// (`spec.env.HOME: expected a string, found number`).
public struct JSONObjectReader: Sendable {
    /// The object's members.
    public let members: [String: JSONValue]
    /// The path of this object in its document, such as `spec` or `spec.resources`.
    public let path: String

    /// A reader over `value`, which must be an object.
    /// - Throws: ``JSONError`` when `value` is not an object.
    public init(_ value: JSONValue, path: String) throws(JSONError) {
        guard case .object(let members) = value else {
            throw JSONError(location: path, reason: "expected an object, found \(value.typeName)")
        }
        self.members = members
        self.path = path
    }

    /// The path of member `key`.
    public func path(of key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    /// Member `key`, treating `null` as absent.
    public func value(_ key: String) -> JSONValue? {
        guard let value = members[key], value != .null else { return nil }
        return value
    }

    /// A required member of any type.
    public func required(_ key: String) throws(JSONError) -> JSONValue {
        guard let value = value(key) else { throw JSONError(location: path(of: key), reason: "is required") }
        return value
    }

    /// A required member that must be one of `T`'s raw values.
    public func requiredEnum<T: RawRepresentable>(_ key: String, _ type: T.Type) throws(JSONError) -> T
    where T.RawValue == String {
        guard let value = try optionalEnum(key, type) else {
            throw JSONError(location: path(of: key), reason: "is required")
        }
        return value
    }

    private func mismatch(_ key: String, _ expected: String, _ found: JSONValue) -> JSONError {
        JSONError(location: path(of: key), reason: "expected \(expected), found \(found.typeName)")
    }

    /// A required string member.
    public func string(_ key: String) throws(JSONError) -> String {
        guard let value = value(key) else { throw JSONError(location: path(of: key), reason: "is required") }
        guard let string = value.stringValue else { throw mismatch(key, "a string", value) }
        return string
    }

    /// An optional string member.
    public func optionalString(_ key: String) throws(JSONError) -> String? {
        guard let value = value(key) else { return nil }
        guard let string = value.stringValue else { throw mismatch(key, "a string", value) }
        return string
    }

    /// A required integer member.
    public func int(_ key: String) throws(JSONError) -> Int64 {
        guard let value = try optionalInt(key) else {
            throw JSONError(location: path(of: key), reason: "is required")
        }
        return value
    }

    /// An optional integer member.
    public func optionalInt(_ key: String) throws(JSONError) -> Int64? {
        guard let value = value(key) else { return nil }
        guard let int = value.int64Value else { throw mismatch(key, "an integer", value) }
        return int
    }

    /// An optional number member.
    public func optionalDouble(_ key: String) throws(JSONError) -> Double? {
        guard let value = value(key) else { return nil }
        guard let double = value.doubleValue else { throw mismatch(key, "a number", value) }
        return double
    }

    /// An optional Boolean member.
    public func optionalBool(_ key: String) throws(JSONError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard let bool = value.boolValue else { throw mismatch(key, "a boolean", value) }
        return bool
    }

    /// An optional array of strings.
    public func optionalStrings(_ key: String) throws(JSONError) -> [String]? {
        guard let value = value(key) else { return nil }
        guard let elements = value.arrayValue else { throw mismatch(key, "an array of strings", value) }
        var strings: [String] = []
        strings.reserveCapacity(elements.count)
        for (offset, element) in elements.enumerated() {
            guard let string = element.stringValue else {
                throw JSONError(
                    location: "\(path(of: key))[\(offset)]",
                    reason: "expected a string, found \(element.typeName)")
            }
            strings.append(string)
        }
        return strings
    }

    /// An optional array of integers.
    public func optionalInts(_ key: String) throws(JSONError) -> [Int64]? {
        guard let value = value(key) else { return nil }
        guard let elements = value.arrayValue else { throw mismatch(key, "an array of integers", value) }
        var ints: [Int64] = []
        ints.reserveCapacity(elements.count)
        for (offset, element) in elements.enumerated() {
            guard let int = element.int64Value else {
                throw JSONError(location: "\(path(of: key))[\(offset)]", reason: "expected an integer, found \(element.typeName)")
            }
            ints.append(int)
        }
        return ints
    }

    /// An optional object of strings, such as an environment or a label set.
    public func optionalStringMap(_ key: String) throws(JSONError) -> [String: String]? {
        guard let value = value(key) else { return nil }
        guard let members = value.objectValue else { throw mismatch(key, "an object of strings", value) }
        var strings: [String: String] = [:]
        strings.reserveCapacity(members.count)
        for (name, element) in members {
            guard let string = element.stringValue else {
                throw JSONError(
                    location: "\(path(of: key)).\(name)",
                    reason: "expected a string, found \(element.typeName)")
            }
            strings[name] = string
        }
        return strings
    }

    /// A required nested object.
    public func object(_ key: String) throws(JSONError) -> JSONObjectReader {
        guard let value = value(key) else { throw JSONError(location: path(of: key), reason: "is required") }
        return try JSONObjectReader(value, path: path(of: key))
    }

    /// An optional RFC 3339 timestamp member.
    public func optionalTimestamp(_ key: String) throws(JSONError) -> Timestamp? {
        guard let text = try optionalString(key) else { return nil }
        guard let timestamp = Timestamp(rfc3339: text) else {
            throw JSONError(location: path(of: key), reason: "expected an RFC 3339 timestamp, found '\(text)'")
        }
        return timestamp
    }

    /// An optional member whose string value must be one of `T`'s raw values.
    public func optionalEnum<T: RawRepresentable>(_ key: String, _: T.Type) throws(JSONError) -> T?
    where T.RawValue == String {
        guard let text = try optionalString(key) else { return nil }
        guard let value = T(rawValue: text) else {
            throw JSONError(location: path(of: key), reason: "unknown value '\(text)'")
        }
        return value
    }
}
