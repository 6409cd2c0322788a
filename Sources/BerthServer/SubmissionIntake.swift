import BerthCore
import BerthPluginKit
import Foundation
import Logging

/// Checks a submission document and makes it the execution to store, the same way for every
/// caller: `POST /v1/executions` and the schedules' runs. It expands a `template` reference
/// (docs/templates.md), reads the submission, applies the default host, and enforces the
/// target host, the webhook allow-list and every host policy that applies.
struct SubmissionIntake: Sendable {
    let configuration: ServerConfiguration
    let context: ServerContext

    /// The execution `body` stands for, to be stored with `id` (or a new one) for `owner`.
    /// - Throws: ``Problem`` naming the field for anything the caller must change.
    func newExecution(_ body: JSONValue, owner: String, id: UUID?) async throws -> NewExecution {
        let (document, template) = try await expandTemplate(body)
        let submission = try Submission(document: document)
        // Selecting hosts by label replaces the default host.
        let targetHost = submission.targetHost ?? (submission.hostSelector.isEmpty ? configuration.defaultHost : nil)
        try await checkTargetHost(submission.targetHost)
        var new = try submission.newExecution(id: id, owner: owner, targetHost: targetHost, sealer: context.sealer)
        new.template = template
        if let url = new.webhookURL, !configuration.webhookURLs.contains(where: { HostPolicy.glob($0, matches: url) }) {
            throw Problem.invalid(
                "webhook_url",
                configuration.webhookURLs.isEmpty
                    ? "this server sends no webhooks (webhooks.allowed_urls is empty)"
                    : "'\(url)' is not an allowed webhook URL (webhooks.allowed_urls: \(configuration.webhookURLs.joined(separator: ", ")))",
                code: "webhook_not_allowed")
        }
        // A selector may land on any matching host: the execution must keep every one's policy.
        for host in policyHosts(targetHost: targetHost, selector: new.hostSelector) {
            if let violation = configuration.policies[host]?.violation(by: new) { throw Problem.policyViolation(violation, host: host) }
        }
        return new
    }

    /// The hosts whose policy a submission must keep: its target host, or every host its
    /// selector matches.
    private func policyHosts(targetHost: String?, selector: [String: String]) -> [String] {
        if let targetHost { return [targetHost] }
        guard !selector.isEmpty else { return [] }
        return configuration.hostLabels.filter { PlacementPlan.matches(selector, labels: $0.value) }.keys.sorted()
    }

    /// Refuses a target host that no configured host has (`422 unknown_target_host`).
    func checkTargetHost(_ host: String?) async throws(Problem) {
        guard let host else { return }
        let known = await context.plugins.hosts.map(\.configuration.name)
        guard known.contains(host) else {
            throw Problem.invalid(
                "target_host",
                "no target host named '\(host)' is configured (configured: \(known.isEmpty ? "none" : known.joined(separator: ", ")))",
                code: "unknown_target_host")
        }
    }

    /// The template `reference` names; 404 `template_not_found` (naming `field`) when none.
    func resolveTemplate(_ reference: String, field: String?) async throws -> ExecutionTemplate {
        guard let (name, version) = TemplateName.parse(reference),
              let template = try await context.store.template(name: name, version: version)
        else {
            throw Problem.templateNotFound(
                "no template \(JSONValue.string(reference).jsonText) (a reference is name@version, name@latest or name)", field: field)
        }
        return template
    }

    /// A submission naming a `template`, expanded into the submission it stands for: the
    /// template's spec, the run's own fields over it, the parameters (checked against the
    /// template's schema) as the inline config and as `BERTH_PARAM_*` variables. A body without
    /// `template` is returned as it is.
    func expandTemplate(_ body: JSONValue) async throws -> (body: JSONValue, template: TemplateReference?) {
        guard case .object(var members) = body, let reference = members["template"] else { return (body, nil) }
        guard let text = reference.stringValue else { throw Problem.invalid("template", "must be a template reference such as solver@3") }
        let template = try await resolveTemplate(text, field: "template")
        members["template"] = nil
        let parameters = members.removeValue(forKey: "parameters") ?? [:]
        guard case .object(let values) = parameters else { throw Problem.invalid("parameters", "must be an object") }
        if let field = members.keys.sorted().first(where: { !Self.templateRunFields.contains($0) }) {
            throw Problem.invalid(
                field, "is given by the template; a run of a template may set only \(Self.templateRunFields.sorted().joined(separator: ", "))",
                code: "template_field")
        }
        // A template without a schema takes any parameters, unchecked.
        if let schema = template.parametersSchema, let violation = SettingsSchema(schema).violations(of: parameters, path: "parameters").first {
            let (path, message) = Self.split(violation)
            throw Problem.invalid(path, message, code: "invalid_parameters")
        }
        var merged = template.spec
        // Where a run asks to go replaces where the template goes, whichever way each says it.
        if members["target_host"] != nil { merged["host_selector"] = nil }
        if members["host_selector"] != nil { merged["target_host"] = nil }
        for (key, value) in members {
            if key == "labels" || key == "env", case .object(let theirs) = value, case .object(let ours)? = merged[key] {
                merged[key] = .object(ours.merging(theirs) { $1 })
            } else {
                merged[key] = value
            }
        }
        var env = merged["env"]?.objectValue ?? [:]
        for (key, value) in values {
            env[Self.parameterVariable(key)] = env[Self.parameterVariable(key)] ?? .string(Self.parameterText(value))
        }
        merged["env"] = .object(env)
        if template.parametersSchema != nil || !values.isEmpty { merged["config"] = parameters }
        return (.object(merged), TemplateReference(name: template.name, version: template.version))
    }

    /// What a run of a template may set besides `template` and `parameters`.
    static let templateRunFields: Set<String> = [
        "name", "labels", "env", "priority", "target_host", "host_selector", "secret_env", "webhook_url", "keep",
    ]

    /// `BERTH_PARAM_` and the key in capitals, every character but a letter or digit as `_`.
    static func parameterVariable(_ key: String) -> String {
        "BERTH_PARAM_" + String(key.uppercased().unicodeScalars.map { scalar in
            (scalar.value < 128 && (CharacterSet.alphanumerics.contains(scalar))) ? Character(scalar) : "_"
        })
    }

    /// A parameter's value as a variable holds it: strings as they are, anything else as JSON.
    static func parameterText(_ value: JSONValue) -> String {
        value.stringValue ?? value.jsonText
    }

    /// `parameters.steps: expected integer, found string` as its path and its message.
    private static func split(_ violation: String) -> (String, String) {
        guard let range = violation.range(of: ": ") else { return ("parameters", violation) }
        return (String(violation[..<range.lowerBound]), String(violation[range.upperBound...]))
    }
}
