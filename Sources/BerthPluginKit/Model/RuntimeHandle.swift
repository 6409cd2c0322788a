/// The engine's own reference to one attempt (a container id, a pod name), as the plugin
/// returned it from `start`. Opaque to the host: it is stored and handed back verbatim.
public struct RuntimeHandle: Sendable, Hashable, CustomStringConvertible, JSONRepresentable {
    /// The handle's JSON, exactly as the plugin produced it.
    public var json: JSONValue

    /// Wraps a handle's JSON.
    public init(json: JSONValue) {
        self.json = json
    }

    /// A handle with the single member `id`, the shape most plugins use.
    public init(id: String) {
        self.json = ["id": .string(id)]
    }

    /// The `id` member, when the handle has one.
    public var id: String? { json["id"]?.stringValue }

    public var description: String { json.jsonText }
}
