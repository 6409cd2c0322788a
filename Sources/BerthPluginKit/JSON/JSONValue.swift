/// A JSON document as a tree of values: the currency of the plugin ABI.
///
/// Every payload that crosses the C boundary is UTF-8 JSON. `JSONValue` parses it with
/// ``JSONValue/init(parsing:)`` and writes it with ``JSONValue/serialized()``, with no
/// Foundation coders in between, so a round trip through the ABI costs microseconds and a
/// malformed payload gets an error that names the offending field.
public enum JSONValue: Sendable, Hashable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// Any JSON number, held as a `Double` (exact for integers up to 2^53).
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object; key order is not preserved.
    case object([String: JSONValue])
}

extension JSONValue {
    /// The value as a string, or nil when it is not one.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The value as a Bool, or nil when it is not one.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The value as a Double, or nil when it is not a number.
    public var doubleValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The value as an integer, or nil when it is not a number with an integral value that a
    /// Double holds exactly.
    public var int64Value: Int64? {
        guard case .number(let value) = self, value.rounded() == value,
              abs(value) <= 9_007_199_254_740_992
        else { return nil }
        return Int64(value)
    }

    /// The members of an object, or nil when it is not one.
    public var objectValue: [String: JSONValue]? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// The elements of an array, or nil when it is not one.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The member `key` of an object; nil when absent or when this is not an object.
    public subscript(key: String) -> JSONValue? {
        objectValue?[key]
    }

    /// The name of the JSON type of this value, for error messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension JSONValue {
    /// A JSON object of strings.
    public init(_ strings: [String: String]) {
        self = .object(strings.mapValues { .string($0) })
    }

    /// A JSON array of strings.
    public init(_ strings: [String]) {
        self = .array(strings.map { .string($0) })
    }
}

extension JSONValue {
    /// Whether a string or an object key in the value holds NUL (which PostgreSQL's `jsonb`,
    /// among others, cannot store).
    public var containsNUL: Bool {
        switch self {
        case .string(let text): text.utf8.contains(0)
        case .array(let elements): elements.contains(where: \.containsNUL)
        case .object(let members): members.contains { $0.key.utf8.contains(0) || $0.value.containsNUL }
        case .null, .bool, .number: false
        }
    }
}
