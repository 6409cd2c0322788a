import BerthPluginKit

/// An error answer of the API server: a `Status` object and its HTTP code, worded as the real
/// server words it.
struct APIStatus: Error, Sendable, Hashable {
    /// One problem with one field of an invalid object.
    struct Cause: Sendable, Hashable {
        /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`.
        var reason: String
        /// The message without the field (`Required value`).
        var message: String
        /// The field's path (`spec.template.spec.containers[0].image`).
        var field: String

        /// A required field that is missing or empty.
        static func required(_ field: String, _ detail: String? = nil) -> Cause {
            Cause(reason: "FieldValueRequired", message: "Required value" + (detail.map { ": \($0)" } ?? ""), field: field)
        }

        /// A field whose value is refused; `value` is already written as the server writes it.
        static func invalid(_ field: String, _ value: String, _ detail: String) -> Cause {
            Cause(reason: "FieldValueInvalid", message: "Invalid value: \(value): \(detail)", field: field)
        }

        /// A field whose value is not one of `supported`.
        static func notSupported(_ field: String, _ value: String, _ supported: [String]) -> Cause {
            let list = supported.map { "\"\($0)\"" }.joined(separator: ", ")
            return Cause(reason: "FieldValueNotSupported", message: "Unsupported value: \"\(value)\": supported values: \(list)", field: field)
        }

        /// `field: message`, as in the Status message.
        var text: String { "\(field): \(message)" }
    }

    /// The HTTP status code.
    var code: Int
    /// The machine-readable reason (`NotFound`).
    var reason: String
    /// The human-readable message.
    var message: String
    /// `details`, when the server gives them.
    var details: JSONValue?

    /// The `Status` object.
    var json: JSONValue {
        var object: [String: JSONValue] = [
            "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
            "message": .string(message), "code": .number(Double(code)),
        ]
        if !reason.isEmpty { object["reason"] = .string(reason) }
        if let details { object["details"] = details }
        return .object(object)
    }

    private static func details(_ resource: APIResource, name: String?, kind: String? = nil) -> JSONValue {
        var details: [String: JSONValue] = ["kind": .string(kind ?? resource.plural)]
        if let name { details["name"] = .string(name) }
        if !resource.group.isEmpty { details["group"] = .string(resource.group) }
        return .object(details)
    }

    /// 401: no or an unknown bearer token.
    static let unauthorized = APIStatus(code: 401, reason: "Unauthorized", message: "Unauthorized")

    /// 404 for an object.
    static func notFound(_ resource: APIResource, _ name: String) -> APIStatus {
        APIStatus(
            code: 404, reason: "NotFound", message: "\(resource.qualifiedResource) \"\(name)\" not found",
            details: details(resource, name: name))
    }

    /// 404 for a path the server does not serve.
    static let pathNotFound = APIStatus(
        code: 404, reason: "NotFound", message: "the server could not find the requested resource", details: [:])

    /// 405 for a method the path does not take.
    static let methodNotAllowed = APIStatus(
        code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource",
        details: [:])

    /// 409 for a name that is taken.
    static func alreadyExists(_ resource: APIResource, _ name: String) -> APIStatus {
        APIStatus(
            code: 409, reason: "AlreadyExists", message: "\(resource.qualifiedResource) \"\(name)\" already exists",
            details: details(resource, name: name))
    }

    /// 409 for a failed precondition.
    static func conflict(_ resource: APIResource, _ name: String, _ problem: String) -> APIStatus {
        APIStatus(
            code: 409, reason: "Conflict",
            message: "Operation cannot be fulfilled on \(resource.qualifiedResource) \"\(name)\": \(problem)",
            details: details(resource, name: name))
    }

    /// 422 naming every field in `causes`.
    static func invalid(_ resource: APIResource, _ name: String, _ causes: [Cause]) -> APIStatus {
        let list = causes.count == 1 ? causes[0].text : "[" + causes.map(\.text).joined(separator: ", ") + "]"
        var details = details(resource, name: name, kind: resource.kind).objectValue ?? [:]
        details["causes"] = .array(causes.map {
            ["reason": .string($0.reason), "message": .string($0.message), "field": .string($0.field)]
        })
        return APIStatus(
            code: 422, reason: "Invalid", message: "\(resource.qualifiedKind) \"\(name)\" is invalid: \(list)",
            details: .object(details))
    }

    /// 403 as RBAC words it.
    static func forbidden(
        user: String, verb: String, _ resource: APIResource, name: String?, subresource: String? = nil, namespace: String
    ) -> APIStatus {
        let object = name.map { "\(resource.qualifiedResource) \"\($0)\"" } ?? resource.qualifiedResource
        let rbacResource = subresource.map { "\(resource.plural)/\($0)" } ?? resource.plural
        return APIStatus(
            code: 403, reason: "Forbidden",
            message: "\(object) is forbidden: User \"\(user)\" cannot \(verb) resource \"\(rbacResource)\" in API group \"\(resource.group)\" in the namespace \"\(namespace)\"",
            details: details(resource, name: name))
    }

    /// 400 with `message`.
    static func badRequest(_ message: String) -> APIStatus {
        APIStatus(code: 400, reason: "BadRequest", message: message)
    }

    /// 410: the watch's resourceVersion is older than the history kept.
    static func expired(_ requested: Int, current: Int) -> APIStatus {
        APIStatus(code: 410, reason: "Expired", message: "too old resource version: \(requested) (\(current))")
    }

    /// 500 for an unexpected problem (the Docker engine failing).
    static func internalError(_ message: String) -> APIStatus {
        APIStatus(
            code: 500, reason: "InternalError", message: "Internal error occurred: \(message)",
            details: ["causes": [["message": .string(message)]]])
    }

    /// The answer of an injected failure with HTTP status `code` (``KubernetesDouble/failNext(_:status:)``).
    static func injected(_ code: Int) -> APIStatus {
        switch code {
        case 429:
            return APIStatus(
                code: 429, reason: "TooManyRequests",
                message: "the server has received too many requests and has asked us to try again later",
                details: ["retryAfterSeconds": 1])
        case 500:
            return internalError("injected by the test double")
        case 503:
            return APIStatus(
                code: 503, reason: "ServiceUnavailable", message: "the server is currently unable to handle the request")
        case 504:
            return APIStatus(
                code: 504, reason: "Timeout",
                message: "the server was unable to return a response in the time allotted, but may still be processing the request")
        default:
            return APIStatus(code: code, reason: reason(for: code), message: "injected failure with status \(code)")
        }
    }

    private static func reason(for code: Int) -> String {
        switch code {
        case 400: "BadRequest"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "NotFound"
        case 409: "Conflict"
        case 410: "Expired"
        case 422: "Invalid"
        case 500...599: "InternalError"
        default: ""
        }
    }
}
