import BerthCore
import BerthPluginKit
import Foundation
import Hummingbird
import Logging

/// `POST /v1/templates`, `GET /v1/templates`, `GET /v1/templates/{ref}`,
/// `POST /v1/templates/{ref}/deprecate`, and what a submission naming a template becomes
/// (docs/templates.md).
extension API {
    /// The body of `POST /v1/templates`.
    struct TemplateRequest {
        var name: String
        var description: String?
        var spec: [String: JSONValue]
        var parametersSchema: JSONValue?

        static let fields: Set<String> = ["name", "description", "spec", "parameters_schema"]
        /// Submission fields a template may not fix: they belong to each run.
        static let runOnlyFields: Set<String> = ["secret_env", "config", "keep", "webhook_url"]
        static let maxDescriptionLength = 1000

        init(body bytes: [UInt8]) throws(Problem) {
            self = try JSONRequestBody.read(bytes, allowed: Self.fields, TemplateRequest.init(reader:))
        }

        private init(reader: JSONObjectReader) throws {
            name = try reader.string("name")
            if let problem = TemplateName.problem(name) { throw Problem.invalid("name", problem) }
            description = try reader.optionalString("description")
            if let description, description.count > Self.maxDescriptionLength || description.unicodeScalars.contains(where: { $0.value == 0 }) {
                throw Problem.invalid("description", "must be at most \(Self.maxDescriptionLength) characters without NUL")
            }
            guard case .object(let spec)? = reader.value("spec") else { throw Problem.invalid("spec", "must be an object with at least an image", code: "missing_field") }
            if let field = spec.keys.sorted().first(where: { !Submission.fields.contains($0) || Self.runOnlyFields.contains($0) }) {
                throw Problem.invalid(
                    "spec.\(field)", Self.runOnlyFields.contains(field) ? "is given by each run, not by the template" : "unknown field", code: "unknown_field")
            }
            // The spec is checked as the submission it stands for, so a template that registers
            // is one whose runs are accepted (its parameters aside).
            do {
                _ = try Submission(document: .object(spec))
            } catch {
                throw error.prefixingField("spec")
            }
            self.spec = spec
            parametersSchema = reader.value("parameters_schema").flatMap { $0 == .null ? nil : $0 }
            if let schema = parametersSchema, schema.objectValue == nil {
                throw Problem.invalid("parameters_schema", "must be a JSON Schema object")
            }
        }
    }

    func createTemplate(_ request: Request, _ caller: Principal) async throws -> Response {
        let wanted = try TemplateRequest(body: try await Self.readBody(request, limit: configuration.maxBodyBytes))
        try await checkTargetHost(wanted.spec["target_host"]?.stringValue)
        let template = try await context.store.createTemplate(NewExecutionTemplate(
            name: wanted.name, description: wanted.description, spec: wanted.spec, parametersSchema: wanted.parametersSchema,
            createdBy: caller.owner))
        return JSONBody.response(Wire.template(template), status: .created)
    }

    func listTemplates(_ request: Request) async throws -> Response {
        let name = request.uri.queryParameters["name"].map(String.init)
        if let name, name.unicodeScalars.contains(where: { $0.value == 0 }) { throw Problem.invalid("name", "must not contain NUL characters") }
        return JSONBody.response(["items": .array(try await context.store.templates(name: name).map(Wire.template))])
    }

    /// The template the route's reference names.
    func template(_ context: some RequestContext) async throws -> ExecutionTemplate {
        try await resolveTemplate(Self.reference(context), field: nil)
    }

    /// The route's `{id}`: a template reference, percent-decoded (clients send `@` as `%40`).
    static func reference(_ context: some RequestContext) -> String {
        let raw = context.parameters.get("id") ?? ""
        return raw.removingPercentEncoding ?? raw
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

    func deprecateTemplate(_ request: Request, _ caller: Principal, context: some RequestContext) async throws -> Response {
        let reference = Self.reference(context)
        guard let (name, version) = TemplateName.parse(reference), let version else {
            throw Problem.templateNotFound("deprecation names one version: name@version, not \(JSONValue.string(reference).jsonText)")
        }
        let body = try await Self.readBody(request, limit: configuration.maxBodyBytes)
        let reason = try JSONRequestBody.read(body.isEmpty ? Array("{}".utf8) : body, allowed: ["reason"]) { reader in
            try reader.optionalString("reason") ?? "deprecated"
        }
        guard (1...TemplateRequest.maxDescriptionLength).contains(reason.count), !reason.unicodeScalars.contains(where: { $0.value == 0 }) else {
            throw Problem.invalid("reason", "must be 1 to \(TemplateRequest.maxDescriptionLength) characters without NUL")
        }
        guard let existing = try await self.context.store.template(name: name, version: version) else {
            throw Problem.templateNotFound("no template \(name)@\(version)")
        }
        if caller.role == .submitter, existing.createdBy != caller.owner {
            throw Problem.forbidden("a submitter token deprecates only its owner's templates; \(name)@\(version) is \(existing.createdBy)'s")
        }
        guard let template = try await self.context.store.deprecateTemplate(name: name, version: version, reason: reason) else {
            throw Problem.templateNotFound("no template \(name)@\(version)")
        }
        context.logger.notice("template deprecated", metadata: ["reason": .string(reason)])
        return JSONBody.response(Wire.template(template))
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

extension Problem {
    /// `404 template_not_found`.
    static func templateNotFound(_ detail: String, field: String? = nil) -> Problem {
        Problem(.notFound, code: "template_not_found", title: "Template not found", detail: detail, field: field)
    }

    /// The same problem with its field inside `parent` (`image` → `spec.image`).
    func prefixingField(_ parent: String) -> Problem {
        var copy = self
        copy.field = field.map { "\(parent).\($0)" } ?? parent
        copy.detail = field == nil ? "\(parent): \(detail)" : "\(parent).\(detail)"
        return copy
    }
}
