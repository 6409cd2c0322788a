/// Why an execution failed, when the failure is not just a non-zero exit code.
public struct ExecutionFailure: Sendable, Hashable, Codable {
    /// A stable, machine-readable code, such as the plugin error codes (`image_not_found`, …).
    public var code: String
    /// A human-readable description.
    public var message: String

    /// Creates a failure description.
    /// - Parameters:
    ///   - code: A stable, machine-readable code.
    ///   - message: A human-readable description.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}
