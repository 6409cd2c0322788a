import BerthCore
import BerthPluginKit
import Hummingbird

extension APIRoute {
    /// The job-service routes: the paths and answers of the FastAPI job services Berth replaces,
    /// mapped onto executions (`docs/api.md`). Registered only when ``ServerConfiguration/jobService``
    /// is set. Errors are problem details, whose `detail` is the message those services' clients
    /// print.
    static let jobService: [APIRoute] = [
        APIRoute(
            method: .post, path: "/run-simulation", operation: .runSimulation,
            summary: "Start a job of the configured image with a config (a file of the config folder, or inline)", tag: "job-service",
            requestBody: ["$ref": "#/components/schemas/RunSimulationRequest"],
            roles: writers,
            responses: [
                RouteResponse(status: 200, description: "The job, queued", content: ["application/json": JobServiceSchemas.started]),
                RouteResponse(status: 400, description: "The body is not JSON", content: problem),
                RouteResponse(status: 403, description: "A viewer token, or the job breaks its host's policy", content: problem),
                RouteResponse(status: 413, description: "The body is larger than the server accepts", content: problem),
                RouteResponse(
                    status: 422,
                    description: "A field is missing, unknown or invalid, or the config file cannot be used (`field` names it; `config_not_found`, `config_path_outside_folder`, `invalid_config`, …)",
                    content: problem),
                unavailable,
            ]),
        APIRoute(
            method: .get, path: "/status/{id}", operation: .getJobStatus,
            summary: "A job's status", tag: "job-service",
            responses: [RouteResponse(status: 200, description: "The status", content: ["application/json": JobServiceSchemas.status]), jobNotFound, unavailable]),
        APIRoute(
            method: .get, path: "/result/{id}", operation: .getJobResult,
            summary: "A job's result (its `::berth::result` line or its /berth/out/result.json)", tag: "job-service",
            responses: [
                RouteResponse(status: 200, description: "The result", content: ["application/json": JobServiceSchemas.result]),
                RouteResponse(status: 404, description: "No job has this id (`execution_not_found`), or it has no result (yet) (`no_result`)", content: problem),
                unavailable,
            ]),
        APIRoute(
            method: .get, path: "/progress/{id}", operation: .getJobProgress,
            summary: "A job's latest progress (`::berth::progress` line); null until it reports one", tag: "job-service",
            responses: [RouteResponse(status: 200, description: "The progress", content: ["application/json": JobServiceSchemas.progress]), jobNotFound, unavailable]),
        APIRoute(
            method: .get, path: "/logs/{id}", operation: .getJobLogs,
            summary: "A job's output so far, both streams in order, as one string", tag: "job-service",
            query: [QueryParameter(name: "tail", description: "Only the last N lines",
                                   schema: ["type": "integer", "minimum": 0, "maximum": .number(Double(LogTail.maxLines))])],
            responses: [
                RouteResponse(status: 200, description: "The output", content: ["application/json": JobServiceSchemas.logs]),
                jobNotFound, invalid,
                RouteResponse(status: 410, description: "Retention removed the logs (`outputs_expired`)", content: problem),
                unavailable,
            ]),
        APIRoute(
            method: .post, path: "/stop/{id}", operation: .stopJob,
            summary: "Stop a job", tag: "job-service",
            roles: writers,
            responses: [
                RouteResponse(status: 200, description: "Stopping (or stopped, when it had not started)", content: ["application/json": JobServiceSchemas.stopped]),
                jobNotFound,
                RouteResponse(status: 409, description: "The job has already finished (`job_finished`)", content: problem),
                unavailable,
            ]),
        APIRoute(
            method: .get, path: "/jobs", operation: .listJobs,
            summary: "The jobs started through /run-simulation, newest first (a submitter token sees its own)", tag: "job-service",
            query: [
                QueryParameter(name: "status", description: "Only jobs with this status",
                               schema: ["type": "string", "enum": .array(JobStatus.allCases.map { .string($0.rawValue) })]),
                QueryParameter(name: "limit", description: "At most this many, 1 to 500 (default 100)",
                               schema: ["type": "integer", "minimum": 1, "maximum": 500, "default": 100]),
            ],
            responses: [RouteResponse(status: 200, description: "The jobs", content: ["application/json": JobServiceSchemas.jobList]), invalid, unavailable]),
        APIRoute(
            method: .get, path: "/job-info/{id}", operation: .getJobInfo,
            summary: "Everything about a job", tag: "job-service",
            responses: [RouteResponse(status: 200, description: "The job", content: ["application/json": JobServiceSchemas.info]), jobNotFound, unavailable]),
        APIRoute(
            method: .get, path: "/health", operation: .jobServiceHealth,
            summary: "Liveness, as the job services answer it", tag: "job-service",
            roles: [],
            responses: [RouteResponse(status: 200, description: "Healthy", content: ["application/json": JobServiceSchemas.health])]),
    ]

    private static let jobNotFound = RouteResponse(status: 404, description: "No job has this id, or the id is not a UUID (`execution_not_found`)", content: problem)
}

/// The JSON schemas of the job-service answers, for the OpenAPI document.
enum JobServiceSchemas {
    private static let id: JSONValue = ["type": "string", "format": "uuid", "description": "The job's id: the execution's id"]
    private static let statusValue: JSONValue = [
        "type": "string", "enum": .array(JobStatus.allCases.map { .string($0.rawValue) }),
        "description": "queued, starting, running, completed, failed or stopped (the execution's state, as the job services said it)",
    ]
    private static let stateValue: JSONValue = [
        "type": "string", "enum": .array(ExecutionState.allCases.map { .string($0.rawValue) }), "description": "The execution's own state",
    ]
    private static let time: JSONValue = ["type": "string", "format": "date-time"]
    private static let nullableTime: JSONValue = ["type": ["string", "null"], "format": "date-time"]
    private static let nullableString: JSONValue = ["type": ["string", "null"]]
    private static let nullableInteger: JSONValue = ["type": ["integer", "null"]]
    private static let nullableObject: JSONValue = ["type": ["object", "null"]]

    private static func object(_ properties: [String: JSONValue]) -> JSONValue {
        [
            "type": "object", "properties": .object(properties),
            "required": .array(properties.keys.sorted().map { .string($0) }), "additionalProperties": false,
        ]
    }

    /// `POST /run-simulation`'s body (component `RunSimulationRequest`): `target_host` one of
    /// `targetHosts` (when there are any), and exactly one of `config_path` and `config`.
    static func runRequest(targetHosts: [String]) -> JSONValue {
        var targetHost: [String: JSONValue] = ["type": ["string", "null"], "description": "A configured target host; omitted: the server's default host"]
        if !targetHosts.isEmpty { targetHost["enum"] = .array(targetHosts.map { .string($0) } + [.null]) }
        return [
            "type": "object",
            "properties": [
                "config_path": [
                    "type": "string", "minLength": 1, "maxLength": 4096, "pattern": "^[^\\u0000-\\u001F\\u007F-\\u009F]*$",
                    "description": "A JSON or YAML file in the server's job_service.config_folder (relative to it, or absolute inside it)",
                ],
                "config": ["type": "object", "description": "The config itself"],
                "target_host": .object(targetHost),
            ],
            "oneOf": [["required": ["config_path"]], ["required": ["config"]]],
            "additionalProperties": false,
        ]
    }
    /// `POST /run-simulation`'s answer.
    static let started = object([
        "job_id": id, "status": statusValue, "target_host": nullableString, "message": ["type": "string"],
    ])
    /// `GET /status/{id}`.
    static let status = object([
        "job_id": id, "status": statusValue, "state": stateValue, "exit_code": nullableInteger, "error": nullableString,
    ])
    /// `GET /result/{id}`.
    static let result = object([
        "job_id": id, "status": statusValue, "result": ["type": "object", "description": "The JSON object the job reported"],
    ])
    /// `GET /progress/{id}`.
    static let progress = object([
        "job_id": id, "status": statusValue, "progress": nullableObject, "updated_at": nullableTime,
    ])
    /// `GET /logs/{id}`.
    static let logs = object([
        "job_id": id, "status": statusValue, "logs": ["type": "string"],
        "truncated": ["type": "boolean", "description": "Whether the beginning was left out (over job_service.max_log_response_bytes)"],
    ])
    /// `POST /stop/{id}`.
    static let stopped = object(["job_id": id, "status": statusValue, "message": ["type": "string"]])
    /// One entry of `GET /jobs`.
    static let summary = object([
        "job_id": id, "status": statusValue, "target_host": nullableString, "host": nullableString,
        "config_path": nullableString, "created_at": time, "finished_at": nullableTime,
    ])
    /// `GET /jobs`.
    static let jobList = object(["jobs": ["type": "array", "items": summary], "count": ["type": "integer", "minimum": 0]])
    /// `GET /job-info/{id}`.
    static let info = object([
        "job_id": id, "status": statusValue, "state": stateValue, "state_reason": nullableString,
        "owner": ["type": "string"], "image": ["type": "string"], "target_host": nullableString, "host": nullableString,
        "config_path": nullableString, "config": nullableObject, "exit_code": nullableInteger, "error": nullableString,
        "attempts": ["type": "integer", "minimum": 0], "container_id": nullableString,
        "runtime_handle": nullableObject,
        "created_at": time, "started_at": nullableTime, "finished_at": nullableTime,
    ])
    /// `GET /health`.
    static let health = object(["status": ["type": "string", "enum": ["healthy"]]])
}
