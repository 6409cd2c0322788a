/// Where one attempt stands, as its engine sees it.
public struct RuntimeStatus: Sendable, Hashable, JSONRepresentable {
    /// The engine-side state of an attempt.
    public enum State: String, Sendable, Hashable, CaseIterable {
        /// Created but not started yet (or pulling, scheduling).
        case created
        /// Its process runs.
        case running
        /// Its process ended; `exitCode` says how.
        case exited
        /// The engine could not run it; `reason` says why.
        case failed
    }

    /// The state.
    public var state: State
    /// The process's exit code once `exited`.
    public var exitCode: Int32?
    /// Why it is in this state, in words (`OOMKilled`, `stopped`, `pulling image x`).
    public var reason: String?
    /// When the process started.
    public var startedAt: Timestamp?
    /// When the process ended.
    public var finishedAt: Timestamp?
    /// For `failed`: the plugin error code that says why (`image_not_found`), when one fits;
    /// nil: `engine_error`.
    public var errorCode: PluginError.Code?

    /// A status with the given fields.
    public init(
        state: State, exitCode: Int32? = nil, reason: String? = nil,
        startedAt: Timestamp? = nil, finishedAt: Timestamp? = nil, errorCode: PluginError.Code? = nil
    ) {
        self.state = state
        self.exitCode = exitCode
        self.reason = reason
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.errorCode = errorCode
    }

    /// Whether the attempt has ended (`exited` or `failed`).
    public var isFinal: Bool { state == .exited || state == .failed }

    public init(json: JSONValue) throws(JSONError) {
        let reader = try JSONObjectReader(json, path: "status")
        self.state = try reader.requiredEnum("state", State.self)
        if let code = try reader.optionalInt("exit_code") {
            guard let exitCode = Int32(exactly: code) else {
                throw JSONError(location: "status.exit_code", reason: "out of range")
            }
            self.exitCode = exitCode
        }
        self.reason = try reader.optionalString("reason")
        self.startedAt = try reader.optionalTimestamp("started_at")
        self.finishedAt = try reader.optionalTimestamp("finished_at")
        if let code = try reader.optionalString("error_code") {
            guard let known = PluginError.Code(rawValue: code) else {
                throw JSONError(location: "status.error_code", reason: "'\(code)' is not an error code of the ABI")
            }
            self.errorCode = known
        }
    }

    public var json: JSONValue {
        var members: [String: JSONValue] = ["state": .string(state.rawValue)]
        if let exitCode { members["exit_code"] = .number(Double(exitCode)) }
        if let reason { members["reason"] = .string(reason) }
        if let startedAt { members["started_at"] = .string(startedAt.rfc3339) }
        if let finishedAt { members["finished_at"] = .string(finishedAt.rfc3339) }
        if let errorCode { members["error_code"] = .string(errorCode.rawValue) }
        return .object(members)
    }
}
