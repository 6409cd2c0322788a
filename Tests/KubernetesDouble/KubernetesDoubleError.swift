/// Why the Kubernetes double could not start, answer, or write a file.
public struct KubernetesDoubleError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, for a test's failure message.
    public let message: String

    /// An error saying `message`.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { "Kubernetes double: \(message)" }
}
