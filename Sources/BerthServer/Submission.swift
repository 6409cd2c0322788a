import BerthCore
import BerthPluginKit
import Foundation
import HTTPTypes

/// The body of `POST /v1/executions`, read with ``JSONObjectReader`` so that every error names
/// the field's path.
struct Submission: Sendable, Equatable {
    var image: String
    var command: [String]?
    var args: [String]
    var env: [String: String]
    var workingDir: String?
    var targetHost: String?
    /// Labels a host must have, instead of naming one (`host_selector`).
    var hostSelector: [String: String]
    var labels: [String: String]
    var cpus: Double?
    var memoryMB: Int64?
    var timeoutSeconds: Int64?
    var priority: Int64
    var name: String?
    var retry: RetryPolicy
    /// Secret environment variables: never stored in the clear, returned or logged.
    var secretEnv: [String: String]
    /// The inline config: written into the container as a file before it starts.
    var config: [String: JSONValue]?
    /// Leave the finished runtime object on its host until retention.
    var keep: Bool
    /// Called (POST, signed) when the execution ends.
    var webhookURL: String?

    /// The members a submission may have; any other is refused (`unknown_field`).
    static let fields: Set<String> = [
        "image", "command", "args", "env", "working_dir", "target_host", "host_selector", "labels", "cpus",
        "memory_mb", "timeout_seconds", "priority", "name", "max_attempts", "retry_on_exit_codes", "retry_backoff_seconds",
        "secret_env", "config", "keep", "webhook_url",
    ]

    /// The inline `config` member, if given: a JSON object without NUL characters.
    static func config(_ reader: JSONObjectReader) throws(Problem) -> [String: JSONValue]? {
        guard let value = reader.value("config") else { return nil }
        guard case .object(let members) = value else { throw Problem.invalid("config", "must be a JSON object") }
        guard !value.containsNUL else { throw Problem.invalid("config", "must not contain NUL characters") }
        return members
    }

    /// The allowed priority range.
    static let priorities: ClosedRange<Int64> = -1000...1000

    /// Reads and validates a parsed submission body (everything but the target host, which needs
    /// the plugin host); parse it with ``JSONRequestBody/parse(_:)``.
    /// - Throws: ``Problem``: 422 naming the field.
    init(document: JSONValue) throws(Problem) {
        self = try JSONRequestBody.read(document, allowed: Self.fields, Submission.init(reader:))
    }

    private init(reader: JSONObjectReader) throws {
        image = try reader.string("image")
        guard !image.trimmingWhitespace.isEmpty else { throw Problem.invalid("image", "must not be empty") }
        command = try reader.optionalStrings("command")
        args = try reader.optionalStrings("args") ?? []
        env = try reader.optionalStringMap("env") ?? [:]
        for key in env.keys.sorted() where !Self.isEnvironmentName(key) {
            throw Problem.invalid(
                "env.\(key)", "not a valid environment variable name (must match [A-Za-z_][A-Za-z0-9_]*)",
                code: "invalid_env_name")
        }
        workingDir = try reader.optionalString("working_dir")
        targetHost = try reader.optionalString("target_host")
        hostSelector = try reader.optionalStringMap("host_selector") ?? [:]
        if reader.value("target_host") != nil, reader.value("host_selector") != nil {
            throw Problem.invalid("host_selector", "name a host (target_host) or select hosts by label (host_selector), not both", code: "conflicting_fields")
        }
        for (key, value) in hostSelector.sorted(by: { $0.key < $1.key }) where key.isEmpty || (key + value).unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw Problem.invalid("host_selector", "label \(JSONValue.string(key).jsonText): keys must not be empty, and keys and values hold no control characters")
        }
        labels = try reader.optionalStringMap("labels") ?? [:]
        cpus = try reader.optionalDouble("cpus")
        if let cpus, !(cpus > 0) || !cpus.isFinite {
            throw Problem.invalid("cpus", "must be a finite number greater than 0", code: "out_of_range")
        }
        memoryMB = try reader.optionalInt("memory_mb")
        if let memoryMB, memoryMB <= 0 || memoryMB > Int64.max / Wire.bytesPerMiB {
            throw Problem.invalid("memory_mb", "must be greater than 0", code: "out_of_range")
        }
        timeoutSeconds = try reader.optionalInt("timeout_seconds")
        if let timeoutSeconds, timeoutSeconds <= 0 || timeoutSeconds > Int64(Int32.max) {
            throw Problem.invalid("timeout_seconds", "must be greater than 0", code: "out_of_range")
        }
        priority = try reader.optionalInt("priority") ?? 0
        guard Self.priorities.contains(priority) else {
            throw Problem.invalid("priority", "must be between -1000 and 1000, found \(priority)", code: "out_of_range")
        }
        name = try reader.optionalString("name")
        retry = try Self.retryPolicy(reader)
        secretEnv = try reader.optionalStringMap("secret_env") ?? [:]
        keep = try reader.optionalBool("keep") ?? false
        webhookURL = try reader.optionalString("webhook_url")
        if let webhookURL {
            guard webhookURL.utf8.count <= 2048, let url = URL(string: webhookURL), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
                  let host = url.host, !host.isEmpty, url.user == nil, url.password == nil
            else {
                throw Problem.invalid("webhook_url", "must be an http or https URL with a host and no credentials, at most 2048 bytes")
            }
        }
        config = try Self.config(reader)
        try checkText()
        for key in secretEnv.keys.sorted() {
            guard Self.isEnvironmentName(key) else {
                throw Problem.invalid(
                    "secret_env.\(key)", "not a valid environment variable name (must match [A-Za-z_][A-Za-z0-9_]*)",
                    code: "invalid_env_name")
            }
            // Named in both: the secret value is the one the container gets, so the plain one is
            // not kept (as with a variable given twice to Docker or Kubernetes, one value wins).
            env[key] = nil
        }
    }

    /// No string may hold NUL (no process argument, variable or database text can); the target
    /// host holds no control character; names and labels follow ``ExecutionNaming``.
    private func checkText() throws(Problem) {
        func refuse(_ text: String, _ field: String, controls: Bool = false) throws(Problem) {
            for scalar in text.unicodeScalars where scalar.value == 0 || (controls && scalar.properties.generalCategory == .control) {
                throw Problem.invalid(field, controls ? "must not contain control characters" : "must not contain NUL characters")
            }
        }
        try refuse(image, "image")
        for (index, part) in (command ?? []).enumerated() { try refuse(part, "command[\(index)]") }
        for (index, part) in args.enumerated() { try refuse(part, "args[\(index)]") }
        for (key, value) in env.sorted(by: { $0.key < $1.key }) { try refuse(value, "env.\(key)") }
        for (key, value) in secretEnv.sorted(by: { $0.key < $1.key }) { try refuse(value, "secret_env.\(key)") }
        if let workingDir { try refuse(workingDir, "working_dir") }
        if let targetHost { try refuse(targetHost, "target_host", controls: true) }
        if let name, let problem = ExecutionNaming.nameProblem(name) {
            throw Problem.invalid("name", problem)
        }
        for (key, value) in labels.sorted(by: { $0.key < $1.key }) {
            if let problem = ExecutionNaming.labelKeyProblem(key) {
                throw Problem.invalid("labels", "label key \(JSONValue.string(key).jsonText): \(problem)", code: "invalid_label")
            }
            if let problem = ExecutionNaming.labelValueProblem(value) {
                throw Problem.invalid("labels.\(key)", problem, code: "invalid_label")
            }
        }
    }

    /// `max_attempts`, `retry_on_exit_codes` and `retry_backoff_seconds`, each checked.
    private static func retryPolicy(_ reader: JSONObjectReader) throws -> RetryPolicy {
        var policy = RetryPolicy()
        if let attempts = try reader.optionalInt("max_attempts") {
            let range = RetryPolicy.maxAttemptsRange
            guard attempts >= range.lowerBound, attempts <= range.upperBound else {
                throw Problem.invalid(
                    "max_attempts", "must be from \(range.lowerBound) to \(range.upperBound), found \(attempts)", code: "out_of_range")
            }
            policy.maxAttempts = Int(attempts)
        }
        for (offset, code) in (try reader.optionalInts("retry_on_exit_codes") ?? []).enumerated() {
            guard (1...255).contains(code) else {
                throw Problem.invalid(
                    "retry_on_exit_codes[\(offset)]", "must be an exit code from 1 to 255, found \(code)", code: "out_of_range")
            }
            policy.onExitCodes.insert(Int32(code))
        }
        if let seconds = try reader.optionalDouble("retry_backoff_seconds") {
            guard RetryPolicy.backoffRange.contains(seconds) else {
                throw Problem.invalid(
                    "retry_backoff_seconds", "must be from 0 to \(Int(RetryPolicy.backoffRange.upperBound)), found \(seconds)",
                    code: "out_of_range")
            }
            policy.backoffSeconds = seconds
        }
        return policy
    }

    /// Whether `name` matches `[A-Za-z_][A-Za-z0-9_]*`.
    static func isEnvironmentName(_ name: String) -> Bool {
        guard let first = name.utf8.first else { return false }
        func letter(_ byte: UInt8) -> Bool {
            (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte == 95
        }
        return letter(first) && name.utf8.dropFirst().allSatisfy { letter($0) || ($0 >= 48 && $0 <= 57) }
    }

    /// The Store's submission, with the secret environment sealed by `sealer`.
    /// - Throws: ``Problem`` when there are secrets and no sealer, or sealing fails.
    func newExecution(id: UUID?, owner: String, targetHost: String?, sealer: (any SecretSealer)?) throws(Problem) -> NewExecution {
        var sealed: [UInt8]?
        if !secretEnv.isEmpty {
            guard let sealer else {
                throw Problem.invalid("secret_env", "this server keeps no secrets key, so it takes no secret_env", code: "secrets_unavailable")
            }
            do {
                sealed = try sealer.seal(environment: secretEnv)
            } catch {
                throw Problem(.internalServerError, code: "internal", title: "Internal error", detail: "the secret environment could not be sealed")
            }
        }
        var new = NewExecution(
            id: id, name: name, owner: owner, image: image, command: command, args: args, env: env,
            workingDir: workingDir, targetHost: targetHost, labels: labels, cpus: cpus,
            memoryBytes: memoryMB.map { $0 * Wire.bytesPerMiB }, timeoutSeconds: timeoutSeconds.map { Int($0) },
            priority: Int(priority), retry: retry, sealedSecretEnv: sealed, secretEnvNames: secretEnv.keys.sorted())
        new.config = config.map { JSONValue.object($0).jsonText }
        new.keep = keep
        new.webhookURL = webhookURL
        new.hostSelector = hostSelector
        return new
    }
}

extension String {
    fileprivate var trimmingWhitespace: Substring {
        var text = self[...]
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text
    }
}

/// Whether a stored execution is what `new` would create: the check that an idempotency key
/// is not reused for a different submission. Secret values are compared opened.
func matches(_ execution: Execution, _ new: NewExecution, sealer: (any SecretSealer)?) -> Bool {
    guard execution.secretEnvNames == new.secretEnvNames, execution.keep == new.keep, execution.webhookURL == new.webhookURL,
          execution.template == new.template, execution.hostSelector == new.hostSelector
    else { return false }
    // The stored config comes back in PostgreSQL's spelling: compare the values.
    guard execution.config.flatMap({ try? JSONValue(parsing: $0) }) == new.config.flatMap({ try? JSONValue(parsing: $0) }) else { return false }
    if let stored = execution.sealedSecretEnv, let given = new.sealedSecretEnv {
        guard let sealer, let a = try? sealer.openEnvironment(stored), let b = try? sealer.openEnvironment(given), a == b else { return false }
    }
    return matchesPlainFields(execution, new)
}

private func matchesPlainFields(_ execution: Execution, _ new: NewExecution) -> Bool {
    execution.image == new.image && execution.command == new.command && execution.args == new.args
        && execution.env == new.env && execution.workingDir == new.workingDir && execution.targetHost == new.targetHost
        && execution.labels == new.labels && execution.cpus == new.cpus && execution.memoryBytes == new.memoryBytes
        && execution.timeoutSeconds == new.timeoutSeconds && execution.priority == new.priority
        && execution.name == new.name && execution.owner == new.owner && execution.retry == new.retry
}
