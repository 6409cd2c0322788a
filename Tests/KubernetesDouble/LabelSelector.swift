import Foundation

/// A `labelSelector` (`a=b,c!=d,e in (f,g),h,!i`), matched against an object's labels.
struct LabelSelector: Sendable, Hashable {
    private enum Requirement: Sendable, Hashable {
        case among(String, Set<String>)
        case notAmong(String, Set<String>)
        case exists(String)
        case absent(String)

        func matches(_ labels: [String: String]) -> Bool {
            switch self {
            case .among(let key, let values): labels[key].map(values.contains) ?? false
            case .notAmong(let key, let values): labels[key].map { !values.contains($0) } ?? true
            case .exists(let key): labels[key] != nil
            case .absent(let key): labels[key] == nil
            }
        }
    }

    private var requirements: [Requirement] = []

    /// Parses `text`; an empty selector matches everything.
    /// - Throws: 400 naming the requirement that cannot be parsed.
    init(parsing text: String?) throws(APIStatus) {
        guard let text else { return }
        for term in Self.terms(text) {
            let term = term.trimmingSpaces
            guard !term.isEmpty else { continue }
            requirements.append(try Self.requirement(term))
        }
    }

    /// Whether `labels` satisfy every requirement.
    func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { $0.matches(labels) }
    }

    /// Splits at commas outside parentheses.
    private static func terms(_ text: String) -> [String] {
        var terms: [String] = []
        var current = ""
        var depth = 0
        for character in text {
            switch character {
            case "(": depth += 1
            case ")": depth -= 1
            case "," where depth == 0:
                terms.append(current)
                current = ""
                continue
            default: break
            }
            current.append(character)
        }
        terms.append(current)
        return terms
    }

    private static func requirement(_ term: String) throws(APIStatus) -> Requirement {
        func key(_ text: Substring) throws(APIStatus) -> String {
            let key = String(text).trimmingSpaces
            guard !key.isEmpty, Labels.isKey(key) else {
                throw APIStatus.badRequest("unable to parse requirement: invalid label key \"\(key)\": \(Labels.keyRules)")
            }
            return key
        }
        func value(_ text: Substring) throws(APIStatus) -> String {
            let value = String(text).trimmingSpaces
            guard Labels.isValue(value) else {
                throw APIStatus.badRequest("unable to parse requirement: invalid label value: \"\(value)\": \(Labels.valueRules)")
            }
            return value
        }
        if term.hasPrefix("!") {
            return .absent(try key(term.dropFirst()))
        }
        if let open = term.firstIndex(of: "(") {
            guard term.hasSuffix(")") else {
                throw APIStatus.badRequest("unable to parse requirement: found '\(term)', expected: ')'")
            }
            let head = term[..<open].split(separator: " ", omittingEmptySubsequences: true)
            let values = Set(try term[term.index(after: open)..<term.index(before: term.endIndex)]
                .split(separator: ",").map { (text: Substring) throws(APIStatus) -> String in try value(text) })
            guard head.count == 2 else {
                throw APIStatus.badRequest("unable to parse requirement: found '\(term)', expected: in, notin")
            }
            switch head[1] {
            case "in": return .among(try key(head[0]), values)
            case "notin": return .notAmong(try key(head[0]), values)
            default: throw APIStatus.badRequest("unable to parse requirement: found '\(head[1])', expected: in, notin")
            }
        }
        if let range = term.range(of: "!=") {
            return .notAmong(try key(term[..<range.lowerBound]), [try value(term[range.upperBound...])])
        }
        if let range = term.range(of: "==") ?? term.range(of: "=") {
            return .among(try key(term[..<range.lowerBound]), [try value(term[range.upperBound...])])
        }
        return .exists(try key(Substring(term)))
    }
}

extension LabelSelector {
    /// The selector that matches every object.
    static let everything = LabelSelector()

    private init() {}
}
