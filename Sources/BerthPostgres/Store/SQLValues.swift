import BerthCore
import Foundation

/// Helpers that turn Swift values into text parameters for `::jsonb` and `::text[]` casts.
enum SQLValues {
    /// A JSON text for a `$n::jsonb` parameter (keys sorted, so equal values give equal text).
    static func json<T: Encodable>(_ value: T) throws -> PostgresBind {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return .text(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// An array literal (`{"a","b"}`) for a `$n::text[]` or `$n::uuid[]` parameter.
    static func array(_ values: [String]) -> PostgresBind {
        let quoted = values.map { value in
            "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return .text("{" + quoted.joined(separator: ",") + "}")
    }

    /// An optional parameter.
    static func optional<T>(_ value: T?, _ bind: (T) -> PostgresBind) -> PostgresBind? {
        value.map(bind)
    }
}

/// Builds a `WHERE` clause and its parameters together, so placeholders always match.
struct SQLConditions {
    private(set) var parameters: [PostgresBind?] = []
    private(set) var clauses: [String] = []

    /// Adds a parameter and returns its placeholder (`$n`).
    mutating func bind(_ value: PostgresBind?) -> String {
        parameters.append(value)
        return "$\(parameters.count)"
    }

    /// Adds a condition.
    mutating func add(_ clause: String) { clauses.append(clause) }

    /// `WHERE a AND b`, or empty.
    var whereClause: String { clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ") }
}
