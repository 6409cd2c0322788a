/// A request to stop one attempt.
public struct StopRequest: Sendable, Hashable, JSONRepresentable {
    /// The attempt.
    public var handle: RuntimeHandle
    /// Seconds between the polite signal and the kill.
    public var graceSeconds: Double

    /// A stop request.
    public init(handle: RuntimeHandle, graceSeconds: Double) {
        self.handle = handle
        self.graceSeconds = graceSeconds
    }

    public init(json: JSONValue) throws(JSONError) {
        let reader = try JSONObjectReader(json, path: "request")
        self.handle = RuntimeHandle(json: try reader.required("handle"))
        self.graceSeconds = try reader.optionalDouble("grace_seconds") ?? 10
        guard graceSeconds >= 0 else {
            throw JSONError(location: "request.grace_seconds", reason: "must not be negative")
        }
    }

    public var json: JSONValue {
        ["handle": handle.json, "grace_seconds": .number(graceSeconds)]
    }
}

/// A request to list runtime objects by labels.
public struct ListRequest: Sendable, Hashable, JSONRepresentable {
    /// Labels every listed object must carry, with these values.
    public var labels: [String: String]

    /// A list request.
    public init(labels: [String: String]) {
        self.labels = labels
    }

    public init(json: JSONValue) throws(JSONError) {
        let reader = try JSONObjectReader(json, path: "request")
        self.labels = try reader.optionalStringMap("labels") ?? [:]
    }

    public var json: JSONValue { ["labels": JSONValue(labels)] }
}

/// The response to `list`.
public struct ListResponse: Sendable, Hashable, JSONRepresentable {
    /// The objects found.
    public var items: [RuntimeObject]

    /// A list response.
    public init(items: [RuntimeObject]) {
        self.items = items
    }

    public init(json: JSONValue) throws(JSONError) {
        let reader = try JSONObjectReader(json, path: "response")
        guard let items = reader.value("items")?.arrayValue else {
            throw JSONError(location: "response.items", reason: "expected an array")
        }
        var objects: [RuntimeObject] = []
        for item in items { objects.append(try RuntimeObject(json: item)) }
        self.items = objects
    }

    public var json: JSONValue { ["items": .array(items.map(\.json))] }
}
