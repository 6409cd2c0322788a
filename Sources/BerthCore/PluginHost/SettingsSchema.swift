public import BerthPluginKit

/// Checks a host's settings against the JSON Schema its plugin publishes, before the plugin
/// sees them, so a typo in configuration is reported with the key's path.
///
/// It implements the subset of JSON Schema (2020-12) that settings schemas use: `type`
/// (one or a list), `properties`, `required`, `additionalProperties` (Boolean or schema),
/// `enum`, `const`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `minLength`,
/// `maxLength`, `items`, `minItems`, `maxItems`. Other keywords are ignored.
public struct SettingsSchema: Sendable {
    /// The schema.
    public let schema: JSONValue

    /// A validator for `schema`.
    public init(_ schema: JSONValue) {
        self.schema = schema
    }

    /// Every violation in `value`, each naming the path of the offending key; empty when valid.
    public func violations(of value: JSONValue, path: String = "settings") -> [String] {
        var found: [String] = []
        check(value, against: schema, path: path, into: &found)
        return found
    }

    private func check(_ value: JSONValue, against schema: JSONValue, path: String, into found: inout [String]) {
        guard let rules = schema.objectValue else {
            if schema == .bool(false) { found.append("\(path): not allowed") }
            return
        }
        if let type = rules["type"], !Self.matches(value, type: type) {
            let expected = type.stringValue ?? (type.arrayValue ?? []).compactMap(\.stringValue).joined(separator: " or ")
            found.append("\(path): expected \(expected), found \(value.typeName)")
            return
        }
        if let allowed = rules["enum"]?.arrayValue, !allowed.contains(value) {
            let names = allowed.map(\.jsonText).joined(separator: ", ")
            found.append("\(path): \(value.jsonText) is not one of \(names)")
        }
        if let constant = rules["const"], constant != value {
            found.append("\(path): must be \(constant.jsonText)")
        }
        switch value {
        case .number(let number):
            checkNumber(number, rules, path: path, into: &found)
        case .string(let string):
            if let minimum = rules["minLength"]?.int64Value, string.count < minimum {
                found.append("\(path): must be at least \(minimum) characters long")
            }
            if let maximum = rules["maxLength"]?.int64Value, string.count > maximum {
                found.append("\(path): must be at most \(maximum) characters long")
            }
        case .array(let elements):
            if let minimum = rules["minItems"]?.int64Value, elements.count < minimum {
                found.append("\(path): must have at least \(minimum) items")
            }
            if let maximum = rules["maxItems"]?.int64Value, elements.count > maximum {
                found.append("\(path): must have at most \(maximum) items")
            }
            if let items = rules["items"] {
                for (index, element) in elements.enumerated() {
                    check(element, against: items, path: "\(path)[\(index)]", into: &found)
                }
            }
        case .object(let members):
            checkObject(members, rules, path: path, into: &found)
        default:
            break
        }
    }

    private func checkNumber(_ number: Double, _ rules: [String: JSONValue], path: String, into found: inout [String]) {
        if let minimum = rules["minimum"]?.doubleValue, number < minimum {
            found.append("\(path): must be at least \(JSONValue.number(minimum).jsonText)")
        }
        if let maximum = rules["maximum"]?.doubleValue, number > maximum {
            found.append("\(path): must be at most \(JSONValue.number(maximum).jsonText)")
        }
        if let minimum = rules["exclusiveMinimum"]?.doubleValue, number <= minimum {
            found.append("\(path): must be greater than \(JSONValue.number(minimum).jsonText)")
        }
        if let maximum = rules["exclusiveMaximum"]?.doubleValue, number >= maximum {
            found.append("\(path): must be less than \(JSONValue.number(maximum).jsonText)")
        }
    }

    private func checkObject(
        _ members: [String: JSONValue], _ rules: [String: JSONValue], path: String, into found: inout [String]
    ) {
        let properties = rules["properties"]?.objectValue ?? [:]
        for name in (rules["required"]?.arrayValue ?? []).compactMap(\.stringValue).sorted()
        where members[name] == nil {
            found.append("\(path).\(name): is required")
        }
        for name in members.keys.sorted() {
            let member = members[name]!
            if let property = properties[name] {
                check(member, against: property, path: "\(path).\(name)", into: &found)
            } else if let additional = rules["additionalProperties"] {
                if additional == .bool(false) {
                    let known = properties.keys.sorted().joined(separator: ", ")
                    found.append("\(path).\(name): unknown key (known keys: \(known))")
                } else {
                    check(member, against: additional, path: "\(path).\(name)", into: &found)
                }
            }
        }
    }

    private static func matches(_ value: JSONValue, type: JSONValue) -> Bool {
        if let names = type.arrayValue {
            return names.contains { matches(value, type: $0) }
        }
        switch (type.stringValue, value) {
        case ("null", .null), ("boolean", .bool), ("number", .number), ("string", .string),
            ("array", .array), ("object", .object):
            return true
        case ("integer", .number):
            return value.int64Value != nil
        default:
            return false
        }
    }
}
