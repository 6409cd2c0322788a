import BerthCore
import Foundation
import BerthPluginKit
import HTTPTypes
public import Hummingbird

/// An error that renders itself as problem details (RFC 9457, `application/problem+json`).
///
/// Every error the API returns is one of these: `type`, `title`, `status`, `detail`, a stable
/// `code`, and for validation errors the `field` (a path such as `env.1BAD` or `limit`).
/// ``ProblemMiddleware`` turns every other error into one.
public struct Problem: Error, HTTPResponseError, Sendable, CustomStringConvertible {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// A stable, machine-readable code such as `unknown_field`.
    public var code: String
    /// A short summary of the kind of problem; the same for every instance of a `code`.
    public var title: String
    /// What went wrong in this instance.
    public var detail: String
    /// The offending field or query parameter, for validation errors.
    public var field: String?
    /// Extra headers for the response.
    public var headers: HTTPFields = [:]
    /// The request id, filled in by the middleware.
    var requestID: String?
    /// More members of the problem document (RFC 9457 extension members).
    var extra: [String: JSONValue] = [:]

    /// A problem.
    public init(_ status: HTTPResponse.Status, code: String, title: String, detail: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.field = field
    }

    /// The `type` URI: `urn:berth:problem:<code>`.
    public var type: String { "urn:berth:problem:\(code)" }

    /// The problem details document.
    var json: JSONValue {
        var object: [String: JSONValue] = [
            "type": .string(type), "title": .string(title), "status": .number(Double(status.code)),
            "detail": .string(detail), "code": .string(code),
        ]
        if let field { object["field"] = .string(field) }
        if let requestID { object["request_id"] = .string(requestID) }
        object.merge(extra) { current, _ in current }
        return .object(object)
    }

    public var description: String {
        "\(status.code) \(code): \(detail)" + (field.map { " (field \($0))" } ?? "")
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = JSONBody.response(json, status: status, contentType: "application/problem+json")
        response.headers.append(contentsOf: headers)
        return response
    }
}

extension Problem {
    /// 422: a field of the body or a query parameter is invalid.
    static func invalid(_ field: String, _ detail: String, code: String = "invalid_field") -> Problem {
        Problem(.unprocessableContent, code: code, title: "Invalid request field", detail: "\(field): \(detail)", field: field)
    }

    /// 404: no execution has this id (or the id is not a UUID).
    static func executionNotFound(_ id: String) -> Problem {
        Problem(.notFound, code: "execution_not_found", title: "Execution not found", detail: "no execution has id '\(id)'")
    }

    /// 404: none of `routes` is for this path; 405 with `Allow` when the path has routes for
    /// other methods.
    static func routeNotFound(method: HTTPRequest.Method, path: String, routes: [APIRoute]) -> Problem {
        let allowed = APIRoute.methods(forPath: path, in: routes)
        guard !allowed.isEmpty else {
            return Problem(.notFound, code: "route_not_found", title: "Route not found", detail: "no route for \(method.rawValue) \(path)")
        }
        let names = allowed.map(\.rawValue).joined(separator: ", ")
        var problem = Problem(
            .methodNotAllowed, code: "method_not_allowed", title: "Method not allowed",
            detail: "\(path) takes \(names), not \(method.rawValue)")
        problem.headers[.allow] = names
        return problem
    }

    /// 404: the execution has made no report of `kind` (yet, or at all).
    static func noReport(_ kind: ExecutionReport.Kind, _ execution: Execution) -> Problem {
        let id = Wire.id(execution.id)
        let detail: String
        switch kind {
        case .progress:
            detail = "execution \(id) has reported no progress\(execution.state.isTerminal ? "" : " yet") (a line '::berth::progress {…}' on stdout)"
        case .result:
            detail = execution.state.isTerminal
                ? "execution \(id) ended (\(execution.state.rawValue)) without a result (a line '::berth::result {…}' on stdout, or /berth/out/result.json)"
                : "execution \(id) has no result yet (it is \(execution.state.rawValue))"
        }
        return Problem(.notFound, code: "no_\(kind.rawValue)", title: kind == .progress ? "No progress" : "No result", detail: detail)
    }

    /// 410: retention removed the execution's logs and collected outputs.
    static func outputsExpired(_ execution: Execution, at: Date) -> Problem {
        Problem(
            .gone, code: "outputs_expired", title: "Outputs removed",
            detail: "the logs and collected outputs of execution \(Wire.id(execution.id)) were removed by retention at \(Wire.timestamp(at).rfc3339) (retention.finished_seconds); its result and progress are kept")
    }

    /// 404: no outputs were collected from the execution's containers.
    static func noArtifacts(_ execution: Execution) -> Problem {
        Problem(
            .notFound, code: "no_artifacts", title: "No outputs",
            detail: "execution \(Wire.id(execution.id)) has no collected outputs" + (execution.state.isTerminal
                ? " (a Docker host collects /berth/out after the container ends; its container wrote none, or its host cannot collect)"
                : " yet (they are collected when its container ends)"))
    }

    /// 400: the body is not JSON.
    static func malformedJSON(_ detail: String, field: String? = nil) -> Problem {
        Problem(.badRequest, code: "malformed_json", title: "Malformed JSON", detail: detail, field: field)
    }

    /// 413: the body is larger than allowed.
    static func bodyTooLarge(limit: Int) -> Problem {
        Problem(.contentTooLarge, code: "body_too_large", title: "Request body too large",
                detail: "the request body is larger than \(limit) bytes")
    }

    /// 500: anything unexpected; the details go to the log only.
    static func internalError(requestID: String?) -> Problem {
        Problem(.internalServerError, code: "internal", title: "Internal server error",
                detail: "the server failed to handle the request; the server log has the details"
                    + (requestID.map { " (request id \($0))" } ?? ""))
    }

    /// 401: no token, a malformed one, or one that is unknown, revoked or expired.
    static func unauthenticated(_ detail: String) -> Problem {
        var problem = Problem(.unauthorized, code: "unauthenticated", title: "Authentication required", detail: detail)
        problem.headers[.wwwAuthenticate] = "Bearer realm=\"berth\""
        return problem
    }

    /// 403: the token's role may not do this.
    static func forbidden(_ detail: String) -> Problem {
        Problem(.forbidden, code: "forbidden", title: "Forbidden", detail: detail)
    }

    /// 403: the submission breaks a rule of its host's policy; `field` names the submission
    /// field, `rule` and `host` the rule and the host.
    static func policyViolation(_ violation: HostPolicy.Violation, host: String) -> Problem {
        var problem = Problem(
            .forbidden, code: "policy_violation", title: "Refused by the host's policy",
            detail: "host \(host), rule \(violation.rule): \(violation.message)", field: violation.field)
        problem.extra = ["rule": .string(violation.rule), "host": .string(host)]
        return problem
    }

    /// 503: the database cannot be reached.
    static func unavailable(_ detail: String) -> Problem {
        Problem(.serviceUnavailable, code: "unavailable", title: "Service unavailable", detail: detail)
    }
}

/// JSON responses from ``JSONValue`` (no Foundation coders).
enum JSONBody {
    /// A response whose body is `value` serialized.
    static func response(_ value: JSONValue, status: HTTPResponse.Status = .ok, contentType: String = "application/json") -> Response {
        var bytes = value.serialized()
        bytes.append(UInt8(ascii: "\n"))
        let buffer = ByteBuffer(bytes: bytes)
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.contentLength] = String(buffer.readableBytes)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: buffer))
    }
}
