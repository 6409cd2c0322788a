public import BerthPluginKit

/// A typed view of an execution as the API returns it; ``json`` keeps every field.
public struct ExecutionView: Sendable, Hashable {
    /// The whole object.
    public var json: JSONValue

    /// A view of `json`, which must be an object with an `id`.
    public init(_ json: JSONValue) throws(ClientError) {
        guard json.objectValue != nil, json["id"]?.stringValue != nil else {
            throw ClientError.invalidResponse("expected an execution object with an id, found \(json.typeName)")
        }
        self.json = json
    }

    private func string(_ key: String) -> String? { json[key]?.stringValue }
    private func time(_ key: String) -> Timestamp? { string(key).flatMap(Timestamp.init(rfc3339:)) }

    /// The id (a UUID).
    public var id: String { string("id") ?? "" }
    /// The optional name.
    public var name: String? { string("name") }
    /// The image reference.
    public var image: String { string("image") ?? "" }
    /// The state (`queued`, `running`, `succeeded`, …).
    public var state: String { string("state") ?? "unknown" }
    /// The exit code of the last attempt, once it exited.
    public var exitCode: Int? { json["exit_code"]?.int64Value.map { Int($0) } }
    /// Why it failed when not by its exit code: `{code, message}`.
    public var error: (code: String, message: String)? {
        guard let error = json["error"], error.objectValue != nil else { return nil }
        return (error["code"]?.stringValue ?? "error", error["message"]?.stringValue ?? "")
    }
    /// The host asked for.
    public var targetHost: String? { string("target_host") }
    /// The host it runs or ran on.
    public var host: String? { string("host") }
    /// When it was submitted.
    public var createdAt: Timestamp? { time("created_at") }
    /// When its last attempt started running.
    public var startedAt: Timestamp? { time("started_at") }
    /// When it reached its final state.
    public var finishedAt: Timestamp? { time("finished_at") }
    /// Why it is in its state, in words.
    public var stateReason: String? { string("state_reason") }
    /// Attempts made so far.
    public var attempts: Int { json["attempts"]?.int64Value.map { Int($0) } ?? 0 }

    /// Whether the state is final.
    public var isTerminal: Bool { Self.terminalStates.contains(state) }

    /// The states an execution never leaves.
    public static let terminalStates: Set = ["succeeded", "failed", "timed_out", "cancelled", "lost"]
}

/// One page of ``BerthClient/list(_:)``.
public struct ExecutionPage: Sendable, Hashable {
    /// The executions, newest first.
    public var executions: [ExecutionView]
    /// The cursor for the next page (`after`), or nil at the end.
    public var next: String?
    /// The whole answer.
    public var json: JSONValue
}

/// One line of an execution's output, from the ndjson form of the logs.
public struct LogLine: Sendable, Hashable {
    /// Which stream wrote it.
    public enum Stream: String, Sendable, Hashable {
        case stdout
        case stderr
    }

    /// Which stream wrote it.
    public var stream: Stream
    /// The bytes (UTF-8 text as the API gives it).
    public var data: String
    /// When it was written, if known.
    public var timestamp: Timestamp?
    /// Its position in the execution's output.
    public var seq: Int64?
    /// The whole line.
    public var json: JSONValue

    /// A line from one ndjson object.
    public init(_ json: JSONValue) throws(ClientError) {
        guard let data = json["data"]?.stringValue else {
            throw ClientError.invalidResponse("log line without data: \(json.jsonText)")
        }
        self.stream = json["stream"]?.stringValue.flatMap(Stream.init(rawValue:)) ?? .stdout
        self.data = data
        self.timestamp = json["timestamp"]?.stringValue.flatMap(Timestamp.init(rfc3339:))
        self.seq = json["seq"]?.int64Value
        self.json = json
    }
}
