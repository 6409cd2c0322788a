/// An image reference split the way Docker splits it: `[registry/]repository[:tag][@digest]`.
public struct ImageReference: Sendable, Hashable, CustomStringConvertible {
    /// The registry host (and port), or nil for Docker Hub.
    public var registry: String?
    /// The repository path, such as `team/solver`.
    public var repository: String
    /// The tag; nil when a digest is given or for an implicit `latest`.
    public var tag: String?
    /// The digest (`sha256:…`), if given.
    public var digest: String?

    /// Parses `reference`; nil when it is empty or malformed.
    public init?(_ reference: String) {
        guard !reference.isEmpty, !reference.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) else { return nil }
        var rest = Substring(reference)
        if let at = rest.firstIndex(of: "@") {
            digest = String(rest[rest.index(after: at)...])
            rest = rest[..<at]
            guard digest?.contains(":") == true else { return nil }
        }
        if let slash = rest.firstIndex(of: "/") {
            let first = rest[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost" {
                registry = String(first)
                rest = rest[rest.index(after: slash)...]
            }
        }
        if let colon = rest.lastIndex(of: ":") {
            tag = String(rest[rest.index(after: colon)...])
            rest = rest[..<colon]
            guard tag?.isEmpty == false, tag?.contains("/") == false else { return nil }
        }
        guard !rest.isEmpty, !rest.hasPrefix("/"), !rest.hasSuffix("/") else { return nil }
        repository = String(rest)
    }

    /// The repository with its registry: what `fromImage` takes.
    public var name: String {
        registry.map { "\($0)/\(repository)" } ?? repository
    }

    /// The tag to pull: the given one, or `latest` when neither tag nor digest is given.
    public var effectiveTag: String? {
        digest == nil ? (tag ?? "latest") : nil
    }

    /// The registry address used to find credentials (`docker.io` for Docker Hub).
    public var registryAddress: String {
        registry ?? "docker.io"
    }

    public var description: String {
        var text = name
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }
}
