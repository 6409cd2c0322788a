/// A value that crosses the plugin boundary as JSON.
public protocol JSONRepresentable: Sendable {
    /// Decodes the value; errors name the field that is wrong.
    init(json: JSONValue) throws(JSONError)
    /// The value as JSON.
    var json: JSONValue { get }
}

extension JSONRepresentable {
    /// Decodes the value from UTF-8 JSON bytes.
    public init(jsonBytes bytes: some Collection<UInt8>) throws(JSONError) {
        try self.init(json: JSONValue(parsing: bytes))
    }
}
