/// A configuration that cannot be used, naming where the problem is: the file, and the key's
/// path in it (`hosts[1].plugin: is required`) or the environment variable
/// (`BERTH_LISTEN_PORT: expected a port number, found 'http'`).
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file the problem is in, or nil for the environment or built-in defaults.
    public var file: String?
    /// The key path (`listen.port`) or the variable (`BERTH_LISTEN_PORT`); empty for the
    /// document as a whole.
    public var location: String
    /// What is wrong.
    public var reason: String

    /// An error at `location`.
    public init(file: String? = nil, location: String, reason: String) {
        self.file = file
        self.location = location
        self.reason = reason
    }

    public var description: String {
        let place = location.isEmpty ? reason : "\(location): \(reason)"
        guard let file else { return place }
        return "\(file): \(place)"
    }
}
