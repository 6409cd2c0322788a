/// Kubernetes' rules for label keys and values and for object names, with the messages the
/// API server gives when one is broken.
enum Labels {
    /// Why a label value is refused.
    static let valueRules = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    /// Why a label key is refused.
    static let keyRules = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    /// Why an object name (a DNS subdomain) is refused.
    static let subdomainRules = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    /// Why a container name (a DNS label) is refused.
    static let dnsLabelRules = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"

    /// A label value: empty, or up to 63 letters, digits, `-`, `_`, `.`, alphanumeric at both ends.
    static func isValue(_ value: String) -> Bool {
        guard !value.isEmpty else { return true }
        let bytes = Array(value.utf8)
        guard bytes.count <= 63, isAlphanumeric(bytes.first!), isAlphanumeric(bytes.last!) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    /// A label key: an optional DNS subdomain prefix and `/`, then a name like a non-empty value.
    static func isKey(_ key: String) -> Bool {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let name = parts.last, !name.isEmpty, isValue(String(name)) else { return false }
        if parts.count == 2 {
            guard !parts[0].isEmpty, parts[0].utf8.count <= 253, isSubdomain(String(parts[0])) else { return false }
        }
        return true
    }

    /// A lowercase RFC 1123 subdomain of at most `limit` characters.
    static func isSubdomain(_ text: String, limit: Int = 253) -> Bool {
        guard !text.isEmpty, text.utf8.count <= limit else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNSLabel(String($0)) }
    }

    /// A lowercase RFC 1123 label: up to 63 lowercase letters, digits and `-`, alphanumeric at both ends.
    static func isDNSLabel(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 63 else { return false }
        let lowerAlphanumeric = { (byte: UInt8) in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard lowerAlphanumeric(bytes.first!), lowerAlphanumeric(bytes.last!) else { return false }
        return bytes.allSatisfy { lowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    /// The problems with `labels` at `field`, worded as the API server words them.
    static func causes(_ labels: [String: String], field: String) -> [APIStatus.Cause] {
        var causes: [APIStatus.Cause] = []
        for key in labels.keys.sorted() {
            if !isKey(key) {
                causes.append(.invalid(field, "\"\(key)\"", keyRules))
            }
            let value = labels[key]!
            if value.utf8.count > 63 {
                causes.append(.invalid(field, "\"\(value)\"", "must be no more than 63 characters"))
            } else if !isValue(value) {
                causes.append(.invalid(field, "\"\(value)\"", valueRules))
            }
        }
        return causes
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
