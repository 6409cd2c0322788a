/// What an execution's `name` and `labels` may hold.
///
/// Labels travel to every backend (Docker labels, Kubernetes labels on the Job and its pods)
/// and come back in label filters, so they follow the strictest of those grammars,
/// Kubernetes': a label that one host accepts is accepted by all, and is refused when it is
/// submitted rather than when an attempt starts. That grammar also keeps out path traversal
/// (`../x`), spaces, quotes and every control character. Keys starting with `berth.` are
/// Berth's own (``BerthLabel``).
///
/// A name is text for people, but it may become a file name (a download of an execution's
/// output), so it holds no `/`, `\` or control character and does not start with `.`.
public enum ExecutionNaming {
    /// The longest name, in Unicode scalars.
    public static let maxNameLength = 253
    /// The longest label name (the part after an optional `prefix/`) and label value.
    public static let maxLabelSegment = 63
    /// The longest label prefix (a DNS subdomain).
    public static let maxLabelPrefix = 253
    /// Label keys with this prefix are reserved for Berth.
    public static let reservedLabelPrefix = "berth."

    /// Why `name` is not an execution name, or `nil` when it is one.
    public static func nameProblem(_ name: String) -> String? {
        let scalars = name.unicodeScalars
        if scalars.isEmpty { return "must not be empty" }
        if scalars.count > maxNameLength { return "must be at most \(maxNameLength) characters long" }
        if scalars.first == "." { return "must not start with '.'" }
        for scalar in scalars {
            if scalar == "/" || scalar == "\\" { return "must not contain '/' or '\\'" }
            if scalar.properties.generalCategory == .control { return "must not contain control characters" }
        }
        return nil
    }

    /// Why `key` is not a label key, or `nil` when it is one: `[prefix/]name`, where the
    /// prefix is a DNS subdomain (lowercase) and the name 1–63 characters of `[A-Za-z0-9._-]`
    /// that start and end alphanumeric.
    public static func labelKeyProblem(_ key: String) -> String? {
        if key.hasPrefix(reservedLabelPrefix) { return "keys starting with '\(reservedLabelPrefix)' are reserved for Berth" }
        let parts = key.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2 {
            let prefix = parts[0]
            if prefix.utf8.count > maxLabelPrefix { return "the prefix must be at most \(maxLabelPrefix) characters long" }
            let dnsLabels = prefix.split(separator: ".", omittingEmptySubsequences: false)
            guard dnsLabels.allSatisfy(isDNSLabel) else {
                return "the prefix before '/' must be a lowercase DNS name (like example.com)"
            }
        }
        guard let name = parts.last, !name.isEmpty else { return "must have a name (after any 'prefix/')" }
        return segmentProblem(name)
    }

    /// Why `value` is not a label value, or `nil` when it is one: empty, or 1–63 characters of
    /// `[A-Za-z0-9._-]` that start and end alphanumeric.
    public static func labelValueProblem(_ value: String) -> String? {
        value.isEmpty ? nil : segmentProblem(Substring(value))
    }

    /// The label name and value rule.
    private static func segmentProblem(_ segment: Substring) -> String? {
        let bytes = Array(segment.utf8)
        if bytes.count > maxLabelSegment { return "must be at most \(maxLabelSegment) characters long" }
        guard bytes.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }),
              let first = bytes.first, isAlphanumeric(first), let last = bytes.last, isAlphanumeric(last)
        else { return "must be letters, digits, '.', '_' and '-', starting and ending with a letter or digit" }
        return nil
    }

    /// A DNS label: 1–63 of `[a-z0-9-]`, starting and ending alphanumeric.
    private static func isDNSLabel(_ label: Substring) -> Bool {
        let bytes = Array(label.utf8)
        guard !bytes.isEmpty, bytes.count <= 63, let first = bytes.first, let last = bytes.last else { return false }
        func lowerAlphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        return lowerAlphanumeric(first) && lowerAlphanumeric(last)
            && bytes.allSatisfy { lowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
