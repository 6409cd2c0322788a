/// One runtime object found by `list`: its handle, its labels and its status.
public struct RuntimeObject: Sendable, Hashable, JSONRepresentable {
    /// The handle to pass to inspect, stop, remove and logs.
    public var handle: RuntimeHandle
    /// All its labels, Berth's included.
    public var labels: [String: String]
    /// Its status.
    public var status: RuntimeStatus

    /// A listed object.
    public init(handle: RuntimeHandle, labels: [String: String], status: RuntimeStatus) {
        self.handle = handle
        self.labels = labels
        self.status = status
    }

    public init(json: JSONValue) throws(JSONError) {
        let reader = try JSONObjectReader(json, path: "item")
        self.handle = RuntimeHandle(json: try reader.required("handle"))
        self.labels = try reader.optionalStringMap("labels") ?? [:]
        self.status = try RuntimeStatus(json: reader.required("status"))
    }

    public var json: JSONValue {
        ["handle": handle.json, "labels": JSONValue(labels), "status": status.json]
    }

    /// The execution id from the `berth.execution` label.
    public var executionID: String? { labels[BerthLabel.execution] }
}

/// Something that happened on an engine, reported on an instance's event stream.
public enum BackendEvent: Sendable, Hashable, JSONRepresentable {
    /// A Berth runtime object changed state.
    case status(handle: RuntimeHandle, labels: [String: String], status: RuntimeStatus)
    /// The connection to the engine was lost (`available: false`) or is back.
    case connection(available: Bool, message: String)

    public init(json: JSONValue) throws(JSONError) {
        let reader = try JSONObjectReader(json, path: "event")
        switch try reader.string("type") {
        case "status":
            let object = try RuntimeObject(json: json)
            self = .status(handle: object.handle, labels: object.labels, status: object.status)
        case "connection":
            guard let available = try reader.optionalBool("available") else {
                throw JSONError(location: "event.available", reason: "is required")
            }
            self = .connection(available: available, message: try reader.optionalString("message") ?? "")
        case let other:
            throw JSONError(location: "event.type", reason: "unknown event type '\(other)'")
        }
    }

    public var json: JSONValue {
        switch self {
        case .status(let handle, let labels, let status):
            ["type": "status", "handle": handle.json, "labels": JSONValue(labels), "status": status.json]
        case .connection(let available, let message):
            ["type": "connection", "available": .bool(available), "message": .string(message)]
        }
    }
}
