import Foundation

/// How to reach a PostgreSQL server.
public struct PostgresConfiguration: Sendable, Hashable {
    /// A libpq connection string: a `postgresql://` URL or `key=value` pairs.
    public var connectionString: String
    /// Keywords that override what the connection string says (for example `dbname`).
    public var overrides: [String: String]
    /// `application_name` reported to the server.
    public var applicationName: String
    /// Seconds to wait for a connection to open.
    public var connectTimeoutSeconds: Int

    /// Creates a configuration.
    /// - Parameters:
    ///   - connectionString: A libpq connection string (URL or `key=value` pairs).
    ///   - overrides: Keywords that override the connection string.
    ///   - applicationName: `application_name` reported to the server.
    ///   - connectTimeoutSeconds: Seconds to wait for a connection to open.
    public init(
        connectionString: String, overrides: [String: String] = [:], applicationName: String = "berth",
        connectTimeoutSeconds: Int = 10
    ) {
        self.connectionString = connectionString
        self.overrides = overrides
        self.applicationName = applicationName
        self.connectTimeoutSeconds = connectTimeoutSeconds
    }

    /// The same server with another database name.
    /// - Parameter database: The database to connect to.
    public func withDatabase(_ database: String) -> PostgresConfiguration {
        var copy = self
        copy.overrides["dbname"] = database
        return copy
    }

    /// The connection string with any password removed, safe to log.
    public var redactedDescription: String {
        var text = Self.redact(connectionString)
        if !overrides.isEmpty {
            let pairs = overrides.keys.sorted().map { key in
                key.lowercased() == "password" ? "\(key)=***" : "\(key)=\(overrides[key]!)"
            }
            text += " [" + pairs.joined(separator: " ") + "]"
        }
        return text
    }

    /// Removes the password from a libpq connection string (URL user-info, `password=` query
    /// parameter, or `password=` keyword).
    /// - Parameter connectionString: A URL or `key=value` string.
    /// - Returns: The string with every password replaced by `***`.
    public static func redact(_ connectionString: String) -> String {
        var text = connectionString
        // postgresql://user:secret@host → postgresql://user:***@host
        if let scheme = text.range(of: "://") {
            let rest = text[scheme.upperBound...]
            let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@"),
               let colon = rest[..<at].firstIndex(of: ":") {
                text.replaceSubrange(rest.index(after: colon)..<at, with: "***")
            }
        }
        // password=secret in a query string or in key=value form (quoted or not).
        let pattern = #"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s]*)"#
        if let regex = try? NSRegularExpression(pattern: pattern) {
            let range = NSRange(text.startIndex..., in: text)
            text = regex.stringByReplacingMatches(in: text, range: range, withTemplate: "$1***")
        }
        return text
    }
}
