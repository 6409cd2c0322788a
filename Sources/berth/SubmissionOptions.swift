import ArgumentParser
import BerthPluginKit
import BerthYAML
import Foundation

/// What `berth run` and `berth submit` send: the image, its command and the limits.
struct SubmissionOptions: ParsableArguments {
    @Option(name: .long, help: "The target host (default: the server's default_host).")
    var host: String?

    @Option(name: .customLong("host-label"), help: ArgumentHelp(
        "Run on a healthy host with this label, the one with the most free slots (repeatable; instead of --host).", valueName: "K=V"))
    var hostLabel: [String] = []

    @Option(name: [.short, .long], help: ArgumentHelp("An environment variable for the container (repeatable).", valueName: "K=V"))
    var env: [String] = []

    @Option(name: .customLong("secret-env"), help: ArgumentHelp(
        "A secret environment variable: sealed at rest, never shown (repeatable; prefer --secret-env-file, which keeps it out of shell history).",
        valueName: "K=V"))
    var secretEnv: [String] = []

    @Option(name: .customLong("secret-env-file"), help: ArgumentHelp("Secret environment variables, one KEY=VALUE per line.", valueName: "file"))
    var secretEnvFile: String?

    @Option(name: .customLong("config-file"), help: ArgumentHelp(
        "A JSON or YAML object, written into the container as JSON before it starts (at the server's inputs.config_path, /berth/in/config.json by default).",
        valueName: "file"))
    var configFile: String?

    @Option(name: .customLong("webhook"), help: ArgumentHelp("A URL the server POSTs to (signed) when the execution ends; the server must allow it (webhooks.allowed_urls).", valueName: "url"))
    var webhook: String?

    @Flag(name: .long, help: "Leave the finished container on its host until retention, for inspection.")
    var keep = false

    @Option(name: .long, help: "A name for the execution (not unique).")
    var name: String?

    @Option(name: .long, help: ArgumentHelp("A label (repeatable).", valueName: "K=V"))
    var label: [String] = []

    @Option(name: .long, help: "CPU limit in cores (such as 0.5).")
    var cpus: Double?

    @Option(name: .customLong("memory-mb"), help: "Memory limit in MiB.")
    var memoryMB: Int?

    @Option(name: .long, help: ArgumentHelp("Wall-clock limit in seconds.", valueName: "seconds"))
    var timeout: Int?

    @Option(name: .long, help: "Priority from -1000 to 1000; higher runs first.")
    var priority: Int?

    @Option(name: .customLong("max-attempts"), help: "Attempts allowed, the first included (1 to 100; default 1: no retry).")
    var maxAttempts: Int?

    @Option(name: .customLong("retry-on-exit-code"), help: ArgumentHelp("An exit code that is retried (repeatable).", valueName: "code"))
    var retryOnExitCode: [Int] = []

    @Option(name: .customLong("retry-backoff"), help: ArgumentHelp("Seconds before the first retry; doubles after (default 2).", valueName: "seconds"))
    var retryBackoff: Double?

    @Option(name: .long, help: "Replace the image's entry point with this program.")
    var entrypoint: String?

    @Option(name: [.short, .customLong("workdir")], help: "The working directory inside the container.")
    var workdir: String?

    @Option(name: .customLong("idempotency-key"), help: "Submitting again with the same key returns the first execution.")
    var idempotencyKey: String?

    @Argument(help: "The image to run.")
    var image: String

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments (replacing the image's default command).")
    var command: [String] = []

    func validate() throws {
        guard !image.isEmpty else { throw ValidationError("the image must not be empty") }
        _ = try Self.pairs(env, option: "--env")
        _ = try Self.pairs(label, option: "--label")
        _ = try Self.pairs(hostLabel, option: "--host-label")
        if host != nil, !hostLabel.isEmpty { throw ValidationError("--host and --host-label cannot be used together") }
        _ = try secrets()
        if let cpus, !(cpus > 0) { throw ValidationError("--cpus must be greater than 0") }
        if let memoryMB, memoryMB <= 0 { throw ValidationError("--memory-mb must be greater than 0") }
        if let timeout, timeout <= 0 { throw ValidationError("--timeout must be greater than 0") }
        if let priority, !(-1000...1000).contains(priority) { throw ValidationError("--priority must be between -1000 and 1000") }
        if let maxAttempts, !(1...100).contains(maxAttempts) { throw ValidationError("--max-attempts must be from 1 to 100") }
        if let code = retryOnExitCode.first(where: { !(1...255).contains($0) }) {
            throw ValidationError("--retry-on-exit-code must be an exit code from 1 to 255, found \(code)")
        }
        if let retryBackoff, !(0...3600).contains(retryBackoff) { throw ValidationError("--retry-backoff must be from 0 to 3600 seconds") }
    }

    /// `K=V` strings as a map; a later duplicate wins.
    static func pairs(_ items: [String], option: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for item in items {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw ValidationError("\(option) expects KEY=VALUE, found '\(item)'")
            }
            result[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        return result
    }

    /// `--secret-env-file`'s lines (blank lines and `#` comments skipped), then `--secret-env`.
    func secrets() throws -> [String: String] {
        var lines: [String] = []
        if let secretEnvFile {
            guard let text = try? String(contentsOfFile: secretEnvFile, encoding: .utf8) else {
                throw ValidationError("cannot read --secret-env-file \(secretEnvFile)")
            }
            lines = text.split(whereSeparator: \.isNewline).map(String.init).filter {
                !$0.trimmingCharacters(in: .whitespaces).isEmpty && !$0.hasPrefix("#")
            }
        }
        return try Self.pairs(lines + secretEnv, option: "--secret-env")
    }

    /// The submission body the API takes.
    func body() throws -> JSONValue {
        var body: [String: JSONValue] = ["image": .string(image)]
        if !command.isEmpty { body["args"] = JSONValue(command) }
        if let entrypoint { body["command"] = JSONValue([entrypoint]) }
        let env = try Self.pairs(env, option: "--env")
        if !env.isEmpty { body["env"] = JSONValue(env) }
        let labels = try Self.pairs(label, option: "--label")
        if !labels.isEmpty { body["labels"] = JSONValue(labels) }
        if let host { body["target_host"] = .string(host) }
        let selector = try Self.pairs(hostLabel, option: "--host-label")
        if !selector.isEmpty { body["host_selector"] = JSONValue(selector) }
        if let name { body["name"] = .string(name) }
        if let cpus { body["cpus"] = .number(cpus) }
        if let memoryMB { body["memory_mb"] = .number(Double(memoryMB)) }
        if let timeout { body["timeout_seconds"] = .number(Double(timeout)) }
        if let priority { body["priority"] = .number(Double(priority)) }
        if let workdir { body["working_dir"] = .string(workdir) }
        if let maxAttempts { body["max_attempts"] = .number(Double(maxAttempts)) }
        if !retryOnExitCode.isEmpty { body["retry_on_exit_codes"] = .array(retryOnExitCode.map { .number(Double($0)) }) }
        if let retryBackoff { body["retry_backoff_seconds"] = .number(retryBackoff) }
        let secrets = try secrets()
        if !secrets.isEmpty { body["secret_env"] = JSONValue(secrets) }
        if let configFile { body["config"] = try Self.config(from: configFile) }
        if keep { body["keep"] = true }
        if let webhook { body["webhook_url"] = .string(webhook) }
        return .object(body)
    }

    /// The object in a `--config-file` (YAML, of which JSON is a part).
    static func config(from file: String) throws -> JSONValue {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw ValidationError("cannot read --config-file \(file)")
        }
        let value: JSONValue
        do {
            value = try JSONValue(yaml: text, file: file)
        } catch {
            throw ValidationError("--config-file: \(error)")
        }
        guard case .object = value else { throw ValidationError("--config-file \(file) must hold an object (key: value pairs), not \(value.typeName)") }
        return value
    }
}
