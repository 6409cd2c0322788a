public import BerthPluginKit
import Foundation
import Yams

extension JSONValue {
    /// The YAML document `text` as a JSON value: mappings become objects (keys as strings),
    /// sequences arrays, and scalars what YAML 1.1 makes of them (`null`/`~` null, `true`
    /// Boolean, `8080` number, anything else a string). Anchors and aliases are resolved.
    /// An empty document is an empty object.
    /// - Throws: ``YAMLError`` with the parser's message (line and column) when the YAML does
    ///   not parse, or the key path of a value JSON cannot hold (such as a binary blob).
    public init(yaml text: String, file: String? = nil) throws(YAMLError) {
        let loaded: Any?
        do {
            loaded = try Yams.load(yaml: text)
        } catch {
            throw YAMLError(file: file, location: "", reason: "not valid YAML: \(error)")
        }
        guard let loaded else {
            self = .object([:])
            return
        }
        self = try Self.convert(loaded, path: "", file: file)
    }

    private static func convert(_ value: Any, path: String, file: String?) throws(YAMLError) -> JSONValue {
        switch value {
        case is NSNull:
            return .null
        case let bool as Bool:
            return .bool(bool)
        case let int as Int:
            return .number(Double(int))
        case let double as Double:
            return .number(double)
        case let string as String:
            return .string(string)
        case let date as Date:
            // An unquoted timestamp (`2026-01-01`): keep it as text, in RFC 3339.
            return .string(Timestamp(nanosecondsSinceEpoch: Int64(date.timeIntervalSince1970 * 1e9)).rfc3339)
        case let array as [Any]:
            var elements: [JSONValue] = []
            elements.reserveCapacity(array.count)
            for (offset, element) in array.enumerated() {
                elements.append(try convert(element, path: "\(path)[\(offset)]", file: file))
            }
            return .array(elements)
        case let mapping as [AnyHashable: Any]:
            var members: [String: JSONValue] = [:]
            for (key, element) in mapping {
                let name: String = if let string = key.base as? String { string } else { "\(key.base)" }
                let memberPath = path.isEmpty ? name : "\(path).\(name)"
                members[name] = try convert(element, path: memberPath, file: file)
            }
            return .object(members)
        default:
            throw YAMLError(
                file: file, location: path, reason: "unsupported YAML value of type \(type(of: value))")
        }
    }
}

/// A YAML document that cannot become a JSON value: the file, the key path, and why.
public struct YAMLError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file, when the text came from one.
    public var file: String?
    /// The key path (`users[0].user`); empty for the document as a whole.
    public var location: String
    /// What is wrong.
    public var reason: String

    /// An error at `location`.
    public init(file: String? = nil, location: String, reason: String) {
        self.file = file
        self.location = location
        self.reason = reason
    }

    public var description: String {
        let place = location.isEmpty ? reason : "\(location): \(reason)"
        guard let file else { return place }
        return "\(file): \(place)"
    }
}
