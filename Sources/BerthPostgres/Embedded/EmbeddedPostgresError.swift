/// A failure of the embedded cluster: which command, its exit code and the tail of its output or log.
public struct EmbeddedPostgresError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in words.
    public var message: String
    /// The command line that failed, if a command failed.
    public var command: String?
    /// Its exit code, if it ran.
    public var exitCode: Int32?
    /// The last lines of its output or of the server log.
    public var outputTail: String?

    /// Creates an error.
    /// - Parameters:
    ///   - message: What went wrong.
    ///   - command: The command line that failed.
    ///   - exitCode: Its exit code.
    ///   - outputTail: The last lines of its output or log.
    public init(message: String, command: String? = nil, exitCode: Int32? = nil, outputTail: String? = nil) {
        self.message = message
        self.command = command
        self.exitCode = exitCode
        self.outputTail = outputTail
    }

    /// `message: `command` exited with N; output: …`.
    public var description: String {
        var text = message
        if let command { text += ": `\(command)`" }
        if let exitCode { text += " exited with \(exitCode)" }
        if let outputTail, !outputTail.isEmpty { text += "; output:\n\(outputTail)" }
        return text
    }
}
