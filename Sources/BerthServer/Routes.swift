import BerthCore
import BerthPluginKit
import Hummingbird

/// Every operation of the API. The route table (``APIRoute/all``) gives each one its method,
/// path, query parameters and documentation; ``API/respond(to:_:context:)`` handles it. The
/// same table registers the routes and generates `GET /openapi.json`, so the two cannot drift.
enum Operation: String, CaseIterable, Sendable {
    case submitExecution, listExecutions, getExecution, cancelExecution, getExecutionLogs, listExecutionEvents
    case getExecutionProgress, getExecutionResult, getExecutionArtifacts, streamEvents
    case listHosts, listPlugins, healthz, readyz, openAPI, metrics
    case createToken, listTokens, revokeToken
    case createTemplate, listTemplates, getTemplate, deprecateTemplate
    case createSchedule, listSchedules, getSchedule, pauseSchedule, resumeSchedule, deleteSchedule
    // The job-service routes (``APIRoute/jobService``), registered only when configured.
    case runSimulation, getJobStatus, getJobResult, getJobProgress, getJobLogs, stopJob, listJobs, getJobInfo, jobServiceHealth
}

/// A query parameter of a route.
struct QueryParameter: Sendable {
    var name: String
    var description: String
    var schema: JSONValue
    /// Whether the parameter may be given several times.
    var repeatable = false
}

/// A response of a route, for the OpenAPI document.
struct RouteResponse: Sendable {
    var status: Int
    var description: String
    /// Media type → schema.
    var content: [String: JSONValue] = [:]
}

/// One route: what the router registers and what the OpenAPI document shows.
struct APIRoute: Sendable {
    var method: HTTPRequest.Method
    /// The path in Hummingbird's and OpenAPI's common syntax (`/v1/executions/{id}`).
    var path: String
    var operation: Operation
    var summary: String
    var tag: String
    var query: [QueryParameter] = []
    var headers: [QueryParameter] = []
    /// The schema of the JSON request body, if the route takes one.
    var requestBody: JSONValue?
    /// The roles whose tokens may call it; empty for a public route (no token needed).
    var roles: Set<APIRole> = Set(APIRole.allCases)
    var responses: [RouteResponse]

    /// The route of `operation`.
    static func of(_ operation: Operation) -> APIRoute {
        everything.first { $0.operation == operation }!
    }

    /// Every route there is: ``all`` and ``jobService``.
    private static let everything = all + jobService

    /// The routes a server registers: ``all``, and ``jobService`` when it serves those.
    static func table(jobService: Bool) -> [APIRoute] {
        jobService ? all + self.jobService : all
    }

    /// Whether the path has an `{id}` parameter.
    var hasIDParameter: Bool { path.contains("{id}") }

    /// The methods `routes` have for a request path (`{id}` matches any one segment), in table
    /// order.
    static func methods(forPath requestPath: String, in routes: [APIRoute]) -> [HTTPRequest.Method] {
        let segments = requestPath.split(separator: "/", omittingEmptySubsequences: false)
        var methods: [HTTPRequest.Method] = []
        for route in routes {
            let template = route.path.split(separator: "/", omittingEmptySubsequences: false)
            guard template.count == segments.count,
                  zip(template, segments).allSatisfy({ $0 == "{id}" ? !$1.isEmpty : $0 == $1 }),
                  !methods.contains(route.method)
            else { continue }
            methods.append(route.method)
        }
        return methods
    }

    /// What the route does, in words, for a 403 (its summary up to the first `;`).
    var forbiddenAction: String {
        let first = summary.split(separator: ";").first.map(String.init) ?? summary
        return first.prefix(1).lowercased() + first.dropFirst()
    }
}

extension APIRoute {
    private static func ref(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }
    static func json(_ schema: String) -> [String: JSONValue] { ["application/json": ref(schema)] }
    static let problem: [String: JSONValue] = ["application/problem+json": ref("Problem")]
    private static let notFound = RouteResponse(status: 404, description: "No execution has this id, or the id is not a UUID", content: problem)
    static let invalid = RouteResponse(status: 422, description: "A query parameter is invalid (`field` names it)", content: problem)
    static let unavailable = RouteResponse(status: 503, description: "The database is unavailable", content: problem)
    private static let string: JSONValue = ["type": "string"]
    static let writers: Set<APIRole> = [.admin, .submitter]
    private static let tokenNotFound = RouteResponse(status: 404, description: "No token has this id", content: problem)
    private static let scheduleNotFound = RouteResponse(
        status: 404, description: "No schedule has this name, or it is another owner's and the token a submitter's (`schedule_not_found`)",
        content: problem)

    /// The route table.
    static let all: [APIRoute] = [
        APIRoute(
            method: .post, path: "/v1/executions", operation: .submitExecution,
            summary: "Submit an execution; it is stored as `queued`", tag: "executions",
            headers: [QueryParameter(
                name: "Idempotency-Key",
                description: "Makes retries safe: a second submission with the same key returns the execution the first one created (at most 255 characters)",
                schema: ["type": "string", "minLength": 1, "maxLength": 255])],
            requestBody: ref("Submission"),
            roles: writers,
            responses: [
                RouteResponse(status: 201, description: "The execution, created now or by an earlier request with the same Idempotency-Key", content: json("Execution")),
                RouteResponse(status: 400, description: "The body is not JSON", content: problem),
                RouteResponse(
                    status: 403,
                    description: "A viewer token, or the submission breaks its host's policy (`policy_violation`: `rule`, `host` and `field` name it)",
                    content: problem),
                RouteResponse(status: 409, description: "The Idempotency-Key was used for a different submission", content: problem),
                RouteResponse(status: 413, description: "The body is larger than the server accepts", content: problem),
                RouteResponse(status: 422, description: "A field is missing, unknown or invalid (`field` names it)", content: problem),
                unavailable,
            ]),
        APIRoute(
            method: .get, path: "/v1/executions", operation: .listExecutions,
            summary: "List executions, newest first, one page at a time", tag: "executions",
            query: [
                QueryParameter(name: "state", description: "Only these states; repeat the parameter or separate with commas",
                               schema: ["type": "array", "items": ref("State")], repeatable: true),
                QueryParameter(name: "host", description: "Only executions placed on, or asking for, this host",
                               schema: ["type": "string", "pattern": "^[^\\u0000]*$"]),
                QueryParameter(name: "label", description: "Only executions with this label, as `key=value`; repeatable (all must match)",
                               schema: ["type": "array", "items": ["type": "string", "pattern": "^[^=\\u0000][^\\u0000]*=[^\\u0000]*$"]], repeatable: true),
                QueryParameter(name: "name", description: "Only executions with exactly this name", schema: ["type": "string", "pattern": "^[^\\u0000]*$"]),
                QueryParameter(name: "limit", description: "Page size, 1 to 500 (default 50)",
                               schema: ["type": "integer", "minimum": 1, "maximum": 500, "default": 50]),
                QueryParameter(name: "after", description: "The `next` cursor of the previous page (empty: the first page)",
                               schema: ["type": "string", "pattern": "^([0-9]{1,17}_[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"]),
            ],
            responses: [RouteResponse(status: 200, description: "One page", content: json("ExecutionList")), invalid, unavailable]),
        APIRoute(
            method: .get, path: "/v1/executions/{id}", operation: .getExecution,
            summary: "Get one execution", tag: "executions",
            responses: [RouteResponse(status: 200, description: "The execution", content: json("Execution")), notFound, unavailable]),
        APIRoute(
            method: .post, path: "/v1/executions/{id}/cancel", operation: .cancelExecution,
            summary: "Cancel an execution (a terminal one is left as it is)", tag: "executions",
            roles: writers,
            responses: [RouteResponse(status: 200, description: "The execution after the request", content: json("Execution")), notFound, unavailable]),
        APIRoute(
            method: .get, path: "/v1/executions/{id}/logs", operation: .getExecutionLogs,
            summary: "Read an execution's output; with follow=true, stream it until the execution ends", tag: "executions",
            query: [
                QueryParameter(name: "stream", description: "Only this stream", schema: ["type": "string", "enum": ["stdout", "stderr"]]),
                QueryParameter(name: "since", description: "Only chunks written at or after this time (RFC 3339)",
                               schema: ["type": "string", "format": "date-time"]),
                QueryParameter(name: "tail", description: "Only the last N lines (after the stream and since filters); with follow, then new output",
                               schema: ["type": "integer", "minimum": 0, "maximum": .number(Double(LogTail.maxLines))]),
                QueryParameter(name: "follow", description: "Keep the response open and send new output until the execution reaches a terminal state",
                               schema: ["type": "boolean", "default": false]),
            ],
            headers: [
                QueryParameter(
                    name: "Accept",
                    description: "`application/x-ndjson` for one JSON object per chunk; `text/event-stream` for server-sent events (`event: log`, `id` = the chunk's seq, then `event: end`); plain text otherwise",
                    schema: string),
                QueryParameter(
                    name: "Last-Event-ID", description: "With `text/event-stream`: go on after this chunk seq (browsers send it when they reconnect)",
                    schema: ["type": "string", "pattern": "^[0-9]{1,18}$"]),
            ],
            responses: [
                RouteResponse(status: 200, description: "The output: raw text, NDJSON lines of LogChunk, or server-sent events", content: [
                    "text/plain": ["type": "string"],
                    "application/x-ndjson": ref("LogChunk"),
                    "text/event-stream": ["type": "string"],
                ]),
                notFound, invalid,
                RouteResponse(status: 410, description: "Retention removed the logs (`outputs_expired`)", content: problem),
                RouteResponse(status: 429, description: "The token already holds its most open follows (`too_many_follows`)", content: problem),
                unavailable,
            ]),
        APIRoute(
            method: .get, path: "/v1/executions/{id}/events", operation: .listExecutionEvents,
            summary: "The execution's state changes, oldest first", tag: "executions",
            responses: [RouteResponse(status: 200, description: "The events", content: json("EventList")), notFound, unavailable]),
        APIRoute(
            method: .get, path: "/v1/executions/{id}/progress", operation: .getExecutionProgress,
            summary: "The latest progress the execution reported (a `::berth::progress {json}` line on stdout)", tag: "executions",
            responses: [
                RouteResponse(status: 200, description: "The latest progress report", content: json("ProgressReport")),
                RouteResponse(status: 404, description: "No execution has this id (`execution_not_found`), or it has reported no progress (`no_progress`)", content: problem),
                unavailable,
            ]),
        APIRoute(
            method: .get, path: "/v1/executions/{id}/result", operation: .getExecutionResult,
            summary: "The execution's result: its last `::berth::result {json}` line, or the result file collected after exit", tag: "executions",
            responses: [
                RouteResponse(status: 200, description: "The result", content: json("ResultReport")),
                RouteResponse(status: 404, description: "No execution has this id (`execution_not_found`), or it has no result (`no_result`)", content: problem),
                unavailable,
            ]),
        APIRoute(
            method: .get, path: "/v1/executions/{id}/artifacts", operation: .getExecutionArtifacts,
            summary: "The outputs collected from the latest attempt's container after it ended (everything under /berth/out), as a tar archive", tag: "executions",
            responses: [
                RouteResponse(status: 200, description: "The tar archive (entries named out/…)", content: ["application/x-tar": ["type": "string", "format": "binary"]]),
                RouteResponse(status: 404, description: "No execution has this id (`execution_not_found`), or no outputs were collected (`no_artifacts`)", content: problem),
                RouteResponse(status: 409, description: "The outputs are being collected, or were not kept (`artifacts_unavailable`: over the cap, or the collection failed)", content: problem),
                RouteResponse(status: 410, description: "Retention removed them (`outputs_expired`)", content: problem),
                unavailable,
            ]),
        APIRoute(
            method: .get, path: "/v1/events", operation: .streamEvents,
            summary: "Every state change as server-sent events (`id` = the event's seq), for dashboards and scripts; a submitter sees its own executions'", tag: "executions",
            query: [
                QueryParameter(name: "execution", description: "Only this execution's", schema: ["type": "string", "format": "uuid"]),
                QueryParameter(name: "host", description: "Only executions placed on, or asking for, this host", schema: ["type": "string", "pattern": "^[^\\u0000]*$"]),
                QueryParameter(name: "owner", description: "Only this owner's executions", schema: ["type": "string", "pattern": "^[^\\u0000]*$"]),
                QueryParameter(name: "after", description: "Start after this event seq (default: only new events; a reconnecting client's Last-Event-ID does the same)",
                               schema: ["type": "integer", "minimum": 0]),
            ],
            headers: [QueryParameter(name: "Last-Event-ID", description: "The last event seq the client saw (browsers send it when they reconnect)",
                                     schema: ["type": "string", "pattern": "^[0-9]+$"])],
            responses: [
                RouteResponse(status: 200, description: "A stream of `event: transition` with `data:` an Event", content: ["text/event-stream": ["type": "string"]]),
                RouteResponse(status: 403, description: "A submitter asked for another owner's events", content: problem),
                invalid,
                RouteResponse(status: 429, description: "The token holds as many follows and streams as allowed", content: problem),
                unavailable,
            ]),
        APIRoute(
            method: .post, path: "/v1/templates", operation: .createTemplate,
            summary: "Register a template: the next version of its name, immutable from then on", tag: "templates",
            requestBody: ref("TemplateRequest"),
            roles: writers,
            responses: [
                RouteResponse(status: 201, description: "The new version", content: json("Template")),
                RouteResponse(status: 400, description: "The body is not JSON", content: problem),
                RouteResponse(status: 403, description: "A viewer token", content: problem),
                RouteResponse(status: 413, description: "The body is larger than the server accepts", content: problem),
                RouteResponse(status: 422, description: "A field is missing, unknown or invalid (`field` names it, `spec.…` inside the spec)", content: problem),
                unavailable,
            ]),
        APIRoute(
            method: .get, path: "/v1/templates", operation: .listTemplates,
            summary: "Every template version, by name, newest version first", tag: "templates",
            query: [QueryParameter(name: "name", description: "Only this template's versions", schema: ["type": "string", "pattern": "^[^\\u0000]*$"])],
            responses: [RouteResponse(status: 200, description: "The versions", content: json("TemplateList")), invalid, unavailable]),
        APIRoute(
            method: .get, path: "/v1/templates/{id}", operation: .getTemplate,
            summary: "One template version: `name@3`, or `name` / `name@latest` for the newest one not deprecated", tag: "templates",
            responses: [
                RouteResponse(status: 200, description: "The version", content: json("Template")),
                RouteResponse(status: 404, description: "No such template or version (`template_not_found`)", content: problem),
                unavailable,
            ]),
        APIRoute(
            method: .post, path: "/v1/templates/{id}/deprecate", operation: .deprecateTemplate,
            summary: "Deprecate a template version: `@latest` skips it; runs naming it still work", tag: "templates",
            requestBody: ref("TemplateDeprecation"),
            roles: writers,
            responses: [
                RouteResponse(status: 200, description: "The version, deprecated", content: json("Template")),
                RouteResponse(status: 400, description: "The body is not JSON", content: problem),
                RouteResponse(status: 403, description: "A viewer token, or a submitter deprecating another owner's template", content: problem),
                RouteResponse(status: 404, description: "No such template version (`template_not_found`); the reference must name a version", content: problem),
                RouteResponse(status: 413, description: "The body is larger than the server accepts", content: problem),
                RouteResponse(status: 422, description: "A field is invalid (`field` names it)", content: problem),
                unavailable,
            ]),
        APIRoute(
            method: .post, path: "/v1/schedules", operation: .createSchedule,
            summary: "Create a schedule: a template run at the times of a cron expression", tag: "schedules",
            requestBody: ref("ScheduleRequest"),
            roles: writers,
            responses: [
                RouteResponse(status: 201, description: "The schedule, with its next due time", content: json("Schedule")),
                RouteResponse(status: 400, description: "The body is not JSON", content: problem),
                RouteResponse(status: 403, description: "A viewer token, or a run would break its host's policy (`policy_violation`)", content: problem),
                RouteResponse(status: 404, description: "The template does not exist (`template_not_found`)", content: problem),
                RouteResponse(status: 409, description: "A schedule has this name (`schedule_exists`)", content: problem),
                RouteResponse(status: 413, description: "The body is larger than the server accepts", content: problem),
                RouteResponse(
                    status: 422,
                    description: "A field is missing, unknown or invalid (`field` names it: `cron`, `time_zone`, `parameters.…`, `run.…`)",
                    content: problem),
                unavailable,
            ]),
        APIRoute(
            method: .get, path: "/v1/schedules", operation: .listSchedules,
            summary: "Every schedule, by name (a submitter's own only)", tag: "schedules",
            responses: [RouteResponse(status: 200, description: "The schedules", content: json("ScheduleList")), unavailable]),
        APIRoute(
            method: .get, path: "/v1/schedules/{id}", operation: .getSchedule,
            summary: "One schedule with what became of its 20 latest due times", tag: "schedules",
            responses: [RouteResponse(status: 200, description: "The schedule", content: json("Schedule")), scheduleNotFound, unavailable]),
        APIRoute(
            method: .post, path: "/v1/schedules/{id}/pause", operation: .pauseSchedule,
            summary: "Pause a schedule: nothing comes due until it is resumed", tag: "schedules",
            roles: writers,
            responses: [RouteResponse(status: 200, description: "The schedule, paused", content: json("Schedule")), scheduleNotFound, unavailable]),
        APIRoute(
            method: .post, path: "/v1/schedules/{id}/resume", operation: .resumeSchedule,
            summary: "Resume a schedule from now on; the times that passed while paused are not made", tag: "schedules",
            roles: writers,
            responses: [RouteResponse(status: 200, description: "The schedule, with its next due time", content: json("Schedule")), scheduleNotFound, unavailable]),
        APIRoute(
            method: .delete, path: "/v1/schedules/{id}", operation: .deleteSchedule,
            summary: "Delete a schedule and its run records; the executions it made stay", tag: "schedules",
            roles: writers,
            responses: [RouteResponse(status: 204, description: "Deleted"), scheduleNotFound, unavailable]),
        APIRoute(
            method: .get, path: "/v1/hosts", operation: .listHosts,
            summary: "The configured target hosts with their health and capacity", tag: "system",
            responses: [RouteResponse(status: 200, description: "The hosts", content: json("HostList"))]),
        APIRoute(
            method: .get, path: "/v1/plugins", operation: .listPlugins,
            summary: "The plugin files found, loaded or not", tag: "system",
            responses: [RouteResponse(status: 200, description: "The plugins", content: json("PluginList"))]),
        APIRoute(
            method: .get, path: "/healthz", operation: .healthz,
            summary: "Liveness: the process answers", tag: "system",
            roles: [],
            responses: [RouteResponse(status: 200, description: "Alive", content: json("Status"))]),
        APIRoute(
            method: .get, path: "/readyz", operation: .readyz,
            summary: "Readiness: the database answers and the plugin host has started", tag: "system",
            roles: [],
            responses: [
                RouteResponse(status: 200, description: "Ready", content: json("Status")),
                RouteResponse(status: 503, description: "Not ready; `detail` says why", content: problem),
            ]),
        APIRoute(
            method: .get, path: "/metrics", operation: .metrics,
            summary: "Metrics in Prometheus's text format (docs/operations.md lists the series)", tag: "system",
            roles: [.admin, .viewer],
            responses: [RouteResponse(status: 200, description: "The series", content: ["text/plain": ["type": "string"]])]),
        APIRoute(
            method: .get, path: "/openapi.json", operation: .openAPI,
            summary: "This document", tag: "system",
            responses: [RouteResponse(status: 200, description: "The OpenAPI 3.1 document", content: ["application/json": ["type": "object"]])]),
        APIRoute(
            method: .post, path: "/v1/tokens", operation: .createToken,
            summary: "Create an API token; its secret is in this answer and never again", tag: "tokens",
            requestBody: ref("TokenRequest"),
            roles: [.admin],
            responses: [
                RouteResponse(status: 201, description: "The token, with its secret in `token`", content: json("NewToken")),
                RouteResponse(status: 400, description: "The body is not JSON", content: problem),
                RouteResponse(status: 422, description: "A field is missing, unknown or invalid (`field` names it)", content: problem),
                unavailable,
            ]),
        APIRoute(
            method: .get, path: "/v1/tokens", operation: .listTokens,
            summary: "List API tokens (never their secrets)", tag: "tokens",
            roles: [.admin],
            responses: [RouteResponse(status: 200, description: "The tokens, newest first", content: json("TokenList")), unavailable]),
        APIRoute(
            method: .post, path: "/v1/tokens/{id}/revoke", operation: .revokeToken,
            summary: "Revoke an API token; the next request with it is refused", tag: "tokens",
            roles: [.admin],
            responses: [RouteResponse(status: 200, description: "The token, revoked", content: json("Token")), tokenNotFound, unavailable]),
    ]
}
