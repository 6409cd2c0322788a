public import BerthPluginKit

/// One event of a `?watch=true` stream: a JSON object per line.
public enum WatchEvent: Sendable, Hashable {
    /// An object was added, changed or deleted: its type and the object as it is now.
    case object(type: String, object: JSONValue)
    /// A bookmark: nothing changed, but the list is current up to this resourceVersion.
    case bookmark(resourceVersion: String)
    /// The watch cannot go on from its resourceVersion (410 Gone): list again.
    case expired(message: String)
    /// Another error the server sent in the stream (a `Status`).
    case error(code: Int, message: String)

    /// The event on one line, or nil when the line is not a watch event.
    public init?(line: [UInt8]) {
        guard let value = try? JSONValue(parsing: line), let type = value["type"]?.stringValue,
              let object = value["object"]
        else { return nil }
        switch type {
        case "BOOKMARK":
            self = .bookmark(resourceVersion: object["metadata"]?["resourceVersion"]?.stringValue ?? "")
        case "ERROR":
            let code = Int(object["code"]?.doubleValue ?? 0)
            let message = object["message"]?.stringValue ?? "watch error"
            self = code == 410 ? .expired(message: message) : .error(code: code, message: message)
        default:
            self = .object(type: type, object: object)
        }
    }
}
