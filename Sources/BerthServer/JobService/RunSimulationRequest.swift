import BerthPluginKit

/// The body of `POST /run-simulation`: a config, by path or inline, and where to run.
struct RunSimulationRequest: Sendable, Equatable {
    /// A file in the configured config folder.
    var configPath: String?
    /// The config itself.
    var config: [String: JSONValue]?
    /// The target host; `nil`: the server's default.
    var targetHost: String?

    static let fields: Set<String> = ["config_path", "config", "target_host"]

    /// Reads and validates the body.
    /// - Throws: ``Problem``: 400 for malformed JSON, 422 naming the field for anything else
    ///   (neither or both of `config_path` and `config`: `config_required`, `config_conflict`).
    init(body bytes: [UInt8]) throws(Problem) {
        self = try JSONRequestBody.read(bytes, allowed: Self.fields, Self.init(reader:))
    }

    private init(reader: JSONObjectReader) throws {
        // Unlike other optional members, these two cannot be null: one of them must be there.
        if reader.members["config_path"] == .null { throw Problem.invalid("config_path", "must be a string") }
        if reader.members["config"] == .null { throw Problem.invalid("config", "must be a JSON object") }
        configPath = try reader.optionalString("config_path")
        targetHost = try reader.optionalString("target_host")
        config = try Submission.config(reader)
        switch (configPath, config) {
        case (nil, nil):
            throw Problem.invalid("config_path", "give config_path (a file of the config folder) or config (the config itself)", code: "config_required")
        case (_?, _?):
            throw Problem.invalid("config", "give config_path or config, not both", code: "config_conflict")
        default: break
        }
        for (field, text) in [("config_path", configPath), ("target_host", targetHost)] {
            if let text, text.isEmpty || text.count > 4096 || text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                throw Problem.invalid(field, "must be 1 to 4096 characters without control characters")
            }
        }
    }
}
