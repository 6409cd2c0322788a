import BerthCore
import BerthPluginKit
import Foundation
import Hummingbird
import Logging

/// `POST /v1/templates`, `GET /v1/templates`, `GET /v1/templates/{ref}` and
/// `POST /v1/templates/{ref}/deprecate` (docs/templates.md). What a submission naming a template
/// becomes is ``SubmissionIntake/expandTemplate(_:)``.
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
        try await intake.checkTargetHost(wanted.spec["target_host"]?.stringValue)
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
        try await intake.resolveTemplate(Self.reference(context), field: nil)
    }

    /// The route's `{id}`: a template reference, percent-decoded (clients send `@` as `%40`).
    static func reference(_ context: some RequestContext) -> String {
        let raw = context.parameters.get("id") ?? ""
        return raw.removingPercentEncoding ?? raw
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
