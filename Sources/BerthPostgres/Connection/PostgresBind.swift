public import Foundation

/// One statement parameter: text (the server parses it) or binary bytes (for `bytea`).
public enum PostgresBind: Sendable, Hashable, ExpressibleByStringLiteral {
    /// A text-format value; the server casts it to the parameter's type.
    case text(String)
    /// A binary-format value; used for `bytea`, whose binary form is the raw bytes.
    case binary([UInt8])

    /// A text value from a string literal.
    public init(stringLiteral value: String) { self = .text(value) }
    /// A text value.
    public init(_ value: String) { self = .text(value) }
    /// An integer, as text.
    public init(_ value: Int) { self = .text(String(value)) }
    /// An integer, as text.
    public init(_ value: Int64) { self = .text(String(value)) }
    /// An integer, as text.
    public init(_ value: Int32) { self = .text(String(value)) }
    /// A floating-point number, as text with full precision.
    public init(_ value: Double) { self = .text("\(value)") }
    /// A boolean, as `true`/`false`.
    public init(_ value: Bool) { self = .text(value ? "true" : "false") }
    /// A UUID, lowercase.
    public init(_ value: UUID) { self = .text(value.uuidString.lowercased()) }
    /// Raw bytes for a `bytea` parameter.
    public init(bytes: [UInt8]) { self = .binary(bytes) }
    /// A date as microseconds since 1970, for `berth_ts($n::int8)`.
    public init(micros date: Date) { self = .text(String(PostgresTime.micros(date))) }
}

/// Conversions between `Date` and the database's microseconds since 1970.
public enum PostgresTime {
    /// Microseconds since 1970, rounded to the database's precision.
    /// - Parameter date: The date.
    public static func micros(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    /// The date for microseconds since 1970.
    /// - Parameter micros: Microseconds since 1970.
    public static func date(micros: Int64) -> Date {
        Date(timeIntervalSince1970: Double(micros) / 1_000_000)
    }
}
