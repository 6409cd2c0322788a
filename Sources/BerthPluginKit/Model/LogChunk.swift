/// Which output stream a log chunk came from.
public enum LogStream: String, Sendable, Hashable, CaseIterable {
    /// Standard output.
    case stdout
    /// Standard error.
    case stderr
}

/// A piece of an attempt's output: usually one line, with the time the engine recorded it.
public struct LogChunk: Sendable, Hashable, JSONRepresentable {
    /// The stream it came from.
    public var stream: LogStream
    /// The bytes, as written (not necessarily UTF-8).
    public var data: [UInt8]
    /// When the engine recorded them.
    public var timestamp: Timestamp

    /// A chunk of `data` from `stream` at `timestamp`.
    public init(stream: LogStream, data: [UInt8], timestamp: Timestamp) {
        self.stream = stream
        self.data = data
        self.timestamp = timestamp
    }

    /// The bytes as text, with invalid UTF-8 repaired.
    public var text: String { String(decoding: data, as: UTF8.self) }

    public init(json: JSONValue) throws(JSONError) {
        let reader = try JSONObjectReader(json, path: "log")
        self.stream = try reader.requiredEnum("stream", LogStream.self)
        guard let data = Base64.decode(try reader.string("data")) else {
            throw JSONError(location: "log.data", reason: "is not valid base64")
        }
        self.data = data
        guard let timestamp = try reader.optionalTimestamp("timestamp") else {
            throw JSONError(location: "log.timestamp", reason: "is required")
        }
        self.timestamp = timestamp
    }

    public var json: JSONValue {
        [
            "stream": .string(stream.rawValue),
            "data": .string(Base64.encode(data)),
            "timestamp": .string(timestamp.rfc3339),
        ]
    }
}

/// A request for an attempt's logs.
public struct LogRequest: Sendable, Hashable, JSONRepresentable {
    /// The attempt.
    public var handle: RuntimeHandle
    /// Keep streaming new output until the attempt ends.
    public var follow: Bool
    /// Only output recorded at or after this time (inclusive, as Docker's `since`).
    public var since: Timestamp?

    /// A log request.
    public init(handle: RuntimeHandle, follow: Bool = false, since: Timestamp? = nil) {
        self.handle = handle
        self.follow = follow
        self.since = since
    }

    public init(json: JSONValue) throws(JSONError) {
        let reader = try JSONObjectReader(json, path: "request")
        self.handle = RuntimeHandle(json: try reader.required("handle"))
        self.follow = try reader.optionalBool("follow") ?? false
        self.since = try reader.optionalTimestamp("since")
    }

    public var json: JSONValue {
        var members: [String: JSONValue] = ["handle": handle.json, "follow": .bool(follow)]
        if let since { members["since"] = .string(since.rfc3339) }
        return .object(members)
    }
}
