/// Template names and references (`solver`, `solver@3`, `solver@latest`).
enum TemplateName {
    /// 1 to 63 characters: lowercase letters, digits, `.`, `_` and `-`, starting with a letter or digit.
    static let pattern = "^[a-z0-9][a-z0-9._-]{0,62}$"
    /// A name, optionally with `@` and a version number or `latest`.
    static let referencePattern = "^[a-z0-9][a-z0-9._-]{0,62}(@([1-9][0-9]{0,8}|latest))?$"

    /// Why `name` cannot name a template, or nil.
    static func problem(_ name: String) -> String? {
        guard let first = name.utf8.first, (1...63).contains(name.utf8.count) else { return "must be 1 to 63 characters" }
        func allowed(_ byte: UInt8) -> Bool { (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) || byte == 46 || byte == 95 || byte == 45 }
        guard allowed(first), first != 46, first != 95, first != 45, name.utf8.allSatisfy(allowed) else {
            return "must be lowercase letters, digits, '.', '_' and '-', starting with a letter or a digit"
        }
        return nil
    }

    /// The name and version of a reference; a nil version means the newest not deprecated.
    static func parse(_ reference: String) -> (name: String, version: Int?)? {
        let parts = reference.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        let name = String(parts[0])
        guard problem(name) == nil else { return nil }
        guard parts.count == 2 else { return (name, nil) }
        if parts[1] == "latest" { return (name, nil) }
        guard let version = Int(parts[1]), (1...999_999_999).contains(version), !parts[1].hasPrefix("0"), !parts[1].hasPrefix("+") else { return nil }
        return (name, version)
    }
}
