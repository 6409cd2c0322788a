import BerthPluginKit
import Foundation

/// A `fieldSelector` (`metadata.name=x,status.phase!=Running`) over the fields the API
/// server supports for the resource.
struct FieldSelector: Sendable, Hashable {
    private struct Requirement: Sendable, Hashable {
        var path: [String]
        var value: String
        var equal: Bool
    }

    private var requirements: [Requirement] = []

    /// Fields the real server lets one select on, per resource.
    private static let supported: [String: Set<String>] = [
        "pods": [
            "metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
            "spec.serviceAccountName", "status.phase", "status.podIP", "status.nominatedNodeName",
        ],
        "jobs": ["metadata.name", "metadata.namespace", "status.successful"],
    ]

    /// Selectable fields whose name is not their path in the object.
    private static let aliases = ["status.successful": "status.succeeded"]

    /// Parses `text` for `resource`.
    /// - Throws: 400 for a field the resource does not support or a malformed term.
    init(parsing text: String?, for resource: APIResource) throws(APIStatus) {
        guard let text else { return }
        for term in text.split(separator: ",") {
            let term = String(term).trimmingSpaces
            guard !term.isEmpty else { continue }
            let (range, equal): (Range<String.Index>, Bool)
            if let found = term.range(of: "!=") {
                (range, equal) = (found, false)
            } else if let found = term.range(of: "==") ?? term.range(of: "=") {
                (range, equal) = (found, true)
            } else {
                throw APIStatus.badRequest("invalid selector: '\(term)'; can't understand '\(term)'")
            }
            let field = String(term[..<range.lowerBound]).trimmingSpaces
            guard Self.supported[resource.plural]?.contains(field) == true else {
                throw APIStatus.badRequest("field label not supported: \(field)")
            }
            requirements.append(Requirement(
                path: (Self.aliases[field] ?? field).split(separator: ".").map(String.init), value: String(term[range.upperBound...]).trimmingSpaces,
                equal: equal))
        }
    }

    /// Whether `object` satisfies every requirement.
    func matches(_ object: JSONValue) -> Bool {
        requirements.allSatisfy { requirement in
            var value: JSONValue? = object
            for key in requirement.path { value = value?[key] }
            let text = value?.stringValue ?? value?.int64Value.map { String($0) } ?? ""
            return (text == requirement.value) == requirement.equal
        }
    }
}

extension FieldSelector {
    /// The selector that matches every object.
    static let everything = FieldSelector()

    private init() {}
}
