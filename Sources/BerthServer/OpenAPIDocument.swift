import BerthCore
import BerthPluginKit
import HTTPTypes

/// The OpenAPI 3.1 document of the API, generated from the route table (``APIRoute/all``).
enum OpenAPIDocument {
    /// The document of this server: `target_host` lists the configured hosts (an empty list
    /// leaves it open).
    static func document(routes: [APIRoute] = APIRoute.all, targetHosts: [String], webhookURLs: [String] = []) -> JSONValue {
        var document = make(routes: routes)
        guard case .object(var root) = document, case .object(var components) = root["components"],
              case .object(var schemas) = components["schemas"], case .object(var submission) = schemas["Submission"],
              case .object(var properties) = submission["properties"]
        else { return document }
        if !targetHosts.isEmpty {
            properties["target_host"] = [
                "type": ["string", "null"], "enum": .array(targetHosts.map { .string($0) } + [.null]),
                "description": "A configured target host; omitted: the server's default host, or any",
            ]
        }
        // The URLs this server calls: its allow-list as a pattern (none: only null).
        properties["webhook_url"] = webhookURLs.isEmpty
            ? ["type": "null", "description": "This server sends no webhooks (webhooks.allowed_urls is empty)"]
            : nullable("string", [
                "maxLength": 2048, "pattern": .string("^(" + webhookURLs.map(globRegex).joined(separator: "|") + ")$"),
                "description": .string("POSTed, signed, when the execution ends; one of: " + webhookURLs.joined(separator: ", ")),
            ])
        // A template's spec is a submission without the fields each run gives.
        var spec = submission
        spec["properties"] = .object(properties.filter { !API.TemplateRequest.runOnlyFields.contains($0.key) })
        spec["required"] = ["image"]
        spec["not"] = ["required": ["target_host", "host_selector"]]
        schemas["TemplateSpec"] = .object(spec)
        // A submission names an image, or a template with parameters (docs/templates.md).
        properties["template"] = ["type": "string", "pattern": .string(TemplateName.referencePattern),
                                  "description": "Run this template (name@version, name@latest or name); the image and command are then the template's"]
        properties["parameters"] = ["type": "object", "description": "The template's parameters, checked against its parameters_schema"]
        submission["properties"] = .object(properties)
        submission["required"] = nil
        submission["not"] = ["required": ["target_host", "host_selector"]]
        let templateGives = Submission.fields.subtracting(SubmissionIntake.templateRunFields).sorted()
        submission["anyOf"] = [
            ["required": ["image"], "not": ["anyOf": [["required": ["parameters"]], ["required": ["template"]]]]],
            ["required": ["template"], "not": ["anyOf": .array(templateGives.map { ["required": [.string($0)]] })]],
        ]
        schemas["Submission"] = .object(submission)
        if routes.contains(where: { $0.operation == .runSimulation }) {
            schemas["RunSimulationRequest"] = JobServiceSchemas.runRequest(targetHosts: targetHosts)
        }
        components["schemas"] = .object(schemas)
        root["components"] = .object(components)
        document = .object(root)
        return document
    }

    /// A glob (`*` any run, `?` one character) as a regular expression.
    static func globRegex(_ glob: String) -> String {
        glob.map { character -> String in
            switch character {
            case "*": ".*"
            case "?": "."
            default: character.isLetter || character.isNumber ? String(character) : "\\" + String(character)
            }
        }.joined()
    }

    static func make(routes: [APIRoute]) -> JSONValue {
        var paths: [String: JSONValue] = [:]
        for route in routes {
            var item = paths[route.path]?.objectValue ?? [:]
            item[route.method.rawValue.lowercased()] = operation(route)
            paths[route.path] = .object(item)
        }
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "Berth",
                "version": "1",
                "description": "Runs containerized executions on configured target hosts. Errors are problem details (RFC 9457) with a stable `code`.",
            ],
            "servers": [["url": "/"]],
            "paths": .object(paths),
            "components": [
                "schemas": .object(schemas),
                "securitySchemes": ["token": ["type": "http", "scheme": "bearer", "description": "An API token: berth_<id>_<secret>"]],
            ],
            "security": [["token": []]],
        ]
    }

    private static func operation(_ route: APIRoute) -> JSONValue {
        var parameters: [JSONValue] = []
        if route.hasIDParameter {
            let idParameter: JSONValue = switch route.tag {
            case "templates":
                ["name": "id", "in": "path", "required": true,
                 "description": "A template reference: `name@version`, or `name` / `name@latest` for the newest version not deprecated",
                 "schema": ["type": "string", "pattern": .string(TemplateName.referencePattern)]]
            case "schedules":
                ["name": "id", "in": "path", "required": true, "description": "The schedule's name",
                 "schema": ["type": "string", "pattern": .string(TemplateName.pattern)]]
            default:
                ["name": "id", "in": "path", "required": true,
                 "description": .string(route.tag == "tokens" ? "The token's id" : "The execution's id"),
                 "schema": ["type": "string", "format": "uuid"]]
            }
            parameters.append(idParameter)
        }
        for query in route.query {
            var parameter: [String: JSONValue] = [
                "name": .string(query.name), "in": "query", "required": false,
                "description": .string(query.description), "schema": query.schema,
            ]
            if query.repeatable { parameter["explode"] = true }
            parameters.append(.object(parameter))
        }
        for header in route.headers {
            parameters.append([
                "name": .string(header.name), "in": "header", "required": false,
                "description": .string(header.description), "schema": header.schema,
            ])
        }
        var responses: [String: JSONValue] = [:]
        for response in route.responses {
            var object: [String: JSONValue] = ["description": .string(response.description)]
            if !response.content.isEmpty {
                object["content"] = .object(response.content.mapValues { ["schema": $0] })
            }
            responses[String(response.status)] = .object(object)
        }
        if !route.roles.isEmpty {
            let problem: JSONValue = ["application/problem+json": ["schema": ["$ref": "#/components/schemas/Problem"]]]
            responses["401"] = ["description": "No token, or one that is malformed, unknown, revoked or expired", "content": problem]
            if route.roles != Set(APIRole.allCases), responses["403"] == nil {
                let allowed = APIRole.allCases.filter(route.roles.contains).map(\.rawValue).joined(separator: ", ")
                responses["403"] = ["description": .string("The token's role may not call this route (allowed: \(allowed))"), "content": problem]
            }
        }
        responses["default"] = [
            "description": "Any other error",
            "content": ["application/problem+json": ["schema": ["$ref": "#/components/schemas/Problem"]]],
        ]
        var object: [String: JSONValue] = [
            "operationId": .string(route.operation.rawValue),
            "summary": .string(route.summary),
            "tags": [.string(route.tag)],
            "responses": .object(responses),
        ]
        if !parameters.isEmpty { object["parameters"] = .array(parameters) }
        if route.roles.isEmpty { object["security"] = [] }
        if let body = route.requestBody {
            object["requestBody"] = ["required": true, "content": ["application/json": ["schema": body]]]
        }
        return .object(object)
    }

    private static func object(_ properties: [String: JSONValue], required: [String], additional: Bool = false) -> JSONValue {
        [
            "type": "object", "properties": .object(properties),
            "required": .array(required.map { .string($0) }), "additionalProperties": .bool(additional),
        ]
    }

    /// The object schema with `null` allowed for every member it does not require: the API
    /// reads a `null` member as an absent one.
    private static func optionalMembersNullable(_ schema: JSONValue) -> JSONValue {
        guard case .object(var root) = schema, case .object(var properties) = root["properties"] else { return schema }
        let required = Set(root["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        for (name, property) in properties where !required.contains(name) {
            guard case .object(var member) = property else { continue }
            switch member["type"] {
            case .string(let type)?: member["type"] = [.string(type), "null"]
            case .array(let types)? where !types.contains("null"): member["type"] = .array(types + ["null"])
            default: break
            }
            properties[name] = .object(member)
        }
        root["properties"] = .object(properties)
        return .object(root)
    }

    private static func nullable(_ type: String, _ extra: [String: JSONValue] = [:]) -> JSONValue {
        var schema = extra
        schema["type"] = [.string(type), "null"]
        return .object(schema)
    }

    /// Text without control characters (Unicode category Cc).
    private static let noControls: JSONValue = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$"
    /// A label key: `[prefix/]name` (see ``ExecutionNaming``).
    private static let labelKey: JSONValue = [
        "maxLength": .number(Double(ExecutionNaming.maxLabelPrefix + 1 + ExecutionNaming.maxLabelSegment)),
        "pattern": #"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$"#,
    ]
    /// A label value: empty, or a label name.
    private static let labelValue: JSONValue = [
        "type": "string", "pattern": #"^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$"#,
    ]
    /// Text without NUL.
    private static let noNUL: JSONValue = "^[^\\u0000]*$"
    private static let tokenProperties: [String: JSONValue] = [
        "id": ["type": "string", "format": "uuid"],
        "name": ["type": "string"],
        "owner": ["type": "string"],
        "role": ["type": "string", "enum": .array(APIRole.allCases.map { .string($0.rawValue) })],
        "created_at": time,
        "last_used_at": nullableTime,
        "expires_at": nullableTime,
        "revoked_at": nullableTime,
    ]
    private static let tokenRequired = ["id", "name", "owner", "role", "created_at", "last_used_at", "expires_at", "revoked_at"]
    private static let strings: JSONValue = ["type": "array", "items": ["type": "string"]]
    private static let stringMap: JSONValue = ["type": "object", "additionalProperties": ["type": "string"]]
    private static let time: JSONValue = ["type": "string", "format": "date-time"]
    private static let nullableTime = nullable("string", ["format": "date-time"])
    private static func ref(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }

    /// A progress or result report: the reported object under the kind's name.
    private static func report(_ kind: ExecutionReport.Kind) -> JSONValue {
        object([
            "execution_id": ["type": "string", "format": "uuid"],
            "attempt": ["type": "integer", "minimum": 1],
            "source": ["type": "string", "enum": ["stdout", "file"]],
            "at": time,
            .init(stringLiteral: kind.rawValue): ["type": "object", "description": "The JSON object the execution reported"],
        ], required: ["execution_id", "attempt", "source", "at", .init(stringLiteral: kind.rawValue)])
    }

    static let schemas: [String: JSONValue] = [
        "State": ["type": "string", "enum": .array(ExecutionState.allCases.map { .string($0.rawValue) })],
        "Submission": optionalMembersNullable(object([
            "image": ["type": "string", "minLength": 1, "pattern": "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$", "description": "The container image reference"],
            "command": ["type": ["array", "null"], "items": ["type": "string", "pattern": noNUL], "description": "Overrides the image's entry point"],
            "args": ["type": "array", "items": ["type": "string", "pattern": noNUL]],
            "env": ["type": "object", "propertyNames": ["pattern": "^[A-Za-z_][A-Za-z0-9_]*$"], "additionalProperties": ["type": "string", "pattern": noNUL]],
            "working_dir": nullable("string", ["pattern": noNUL]),
            "target_host": nullable("string", ["minLength": 1, "pattern": noControls, "description": "A configured target host; omitted: the server's default host, or any"]),
            "host_selector": ["type": "object", "propertyNames": ["minLength": 1, "pattern": noControls], "additionalProperties": ["type": "string", "pattern": noControls],
                              "description": "Run on a healthy host whose labels include these (the one with the most free slots); instead of target_host"],
            "labels": ["type": "object", "propertyNames": labelKey, "additionalProperties": labelValue,
                       "description": "Kubernetes' label grammar, for every host; keys starting with 'berth.' are reserved"],
            "cpus": nullable("number", ["exclusiveMinimum": 0]),
            "memory_mb": nullable("integer", ["exclusiveMinimum": 0, "maximum": .number(Double(Int64.max >> 20))]),
            "timeout_seconds": nullable("integer", ["exclusiveMinimum": 0, "maximum": .number(Double(Int32.max))]),
            "priority": ["type": "integer", "minimum": -1000, "maximum": 1000, "default": 0],
            "name": nullable("string", [
                "minLength": 1, "maxLength": .number(Double(ExecutionNaming.maxNameLength)),
                "pattern": #"^[^./\\\u0000-\u001F\u007F-\u009F][^/\\\u0000-\u001F\u007F-\u009F]*$"#,
                "description": "A name for people; no '/', '\\' or control characters, not starting with '.'",
            ]),
            "config": nullable("object", ["description": "Written as JSON into the container before it starts (inputs.config_path, default /berth/in/config.json); Docker hosts"]),
            "keep": ["type": "boolean", "default": false, "description": "Leave the finished container on its host until retention (for inspection)"],
            "webhook_url": nullable("string", ["maxLength": 2048, "format": "uri", "pattern": "^https?://[^\\s/@]+(/[^\\s]*)?$",
                                               "description": "POSTed, signed, when the execution ends; must match the server's webhooks.allowed_urls"]),
            "max_attempts": ["type": "integer", "minimum": 1, "maximum": 100, "default": 1,
                             "description": "Attempts allowed, the first included; a lost attempt, an engine failure and a listed exit code are retried"],
            "retry_on_exit_codes": ["type": "array", "items": ["type": "integer", "minimum": 1, "maximum": 255],
                                    "description": "Non-zero exit codes that are retried (others are final)"],
            "retry_backoff_seconds": ["type": "number", "minimum": 0, "maximum": 3600, "default": 2,
                                      "description": "Wait before the first retry; doubles for each one after"],
            "secret_env": ["type": "object", "propertyNames": ["pattern": "^[A-Za-z_][A-Za-z0-9_]*$"],
                           "additionalProperties": ["type": "string", "pattern": noNUL], "writeOnly": true,
                           "description": "Environment variables whose values are sealed at rest (AES-256-GCM) and never returned or logged"],
        ], required: ["image"])),
        "Execution": object([
            "id": ["type": "string", "format": "uuid"],
            "name": nullable("string"),
            "owner": ["type": "string"],
            "image": ["type": "string"],
            "command": ["type": ["array", "null"], "items": ["type": "string"]],
            "args": strings,
            "env": stringMap,
            "working_dir": nullable("string"),
            "target_host": nullable("string"),
            "host_selector": stringMap,
            "host": nullable("string", ["description": "Where the current attempt is placed"]),
            "state": ref("State"),
            "state_reason": nullable("string"),
            "exit_code": nullable("integer"),
            "error": ["oneOf": [ref("ExecutionError"), ["type": "null"]]],
            "attempts": ["type": "integer", "minimum": 0],
            "priority": ["type": "integer"],
            "labels": stringMap,
            "cpus": nullable("number"),
            "memory_mb": nullable("integer"),
            "timeout_seconds": nullable("integer"),
            "max_attempts": ["type": "integer", "minimum": 1],
            "retry_on_exit_codes": ["type": "array", "items": ["type": "integer"]],
            "retry_backoff_seconds": ["type": "number", "minimum": 0],
            "not_before": ["oneOf": [time, ["type": "null"]], "description": "While queued for a retry: not placed before this time"],
            "secret_env": ["type": "array", "items": ["type": "string"], "description": "The names of the secret variables (never their values)"],
            "config": nullable("object", ["description": "The inline config given at submission"]),
            "keep": ["type": "boolean"],
            "webhook_url": nullable("string"),
            "template": ["oneOf": [
                object(["name": ["type": "string"], "version": ["type": "integer", "minimum": 1]], required: ["name", "version"]),
                ["type": "null"],
            ], "description": "The template it was submitted from"],
            "schedule": ["oneOf": [
                object(["id": ["type": "string", "format": "uuid"], "name": ["type": "string"], "due_at": time], required: ["id", "name", "due_at"]),
                ["type": "null"],
            ], "description": "The schedule and due time it was made for"],
            "outputs_expired_at": ["oneOf": [time, ["type": "null"]], "description": "When retention removed the logs and collected outputs"],
            "created_at": time,
            "updated_at": time,
            "started_at": nullableTime,
            "finished_at": nullableTime,
        ], required: [
            "id", "name", "owner", "image", "command", "args", "env", "working_dir", "target_host", "host_selector", "host", "state",
            "state_reason", "exit_code", "error", "attempts", "priority", "labels", "cpus", "memory_mb",
            "timeout_seconds", "max_attempts", "retry_on_exit_codes", "retry_backoff_seconds", "not_before", "secret_env", "config", "keep", "outputs_expired_at", "webhook_url", "template",
            "schedule",
            "created_at", "updated_at", "started_at", "finished_at",
        ]),
        "TemplateRequest": object([
            "name": ["type": "string", "pattern": .string(TemplateName.pattern), "description": "The template's name; each registration adds its next version"],
            "description": nullable("string", ["maxLength": 1000, "pattern": noNUL]),
            "spec": ref("TemplateSpec"),
            "parameters_schema": nullable("object", ["description": "The JSON Schema a run's parameters must satisfy"]),
        ], required: ["name", "spec"]),
        "Template": object([
            "name": ["type": "string"],
            "version": ["type": "integer", "minimum": 1],
            "ref": ["type": "string", "description": "name@version"],
            "description": nullable("string"),
            "spec": ["type": "object"],
            "parameters_schema": nullable("object"),
            "created_by": ["type": "string"],
            "created_at": time,
            "deprecated_at": nullableTime,
            "deprecation_reason": nullable("string"),
        ], required: [
            "name", "version", "ref", "description", "spec", "parameters_schema", "created_by", "created_at", "deprecated_at", "deprecation_reason",
        ]),
        "TemplateList": object(["items": ["type": "array", "items": ref("Template")]], required: ["items"]),
        "TemplateDeprecation": object([
            "reason": ["type": "string", "minLength": 1, "maxLength": 1000, "pattern": noNUL],
        ], required: []),
        "ScheduleRequest": object([
            "name": ["type": "string", "pattern": .string(TemplateName.pattern), "description": "The schedule's unique name"],
            "cron": ["type": "string", "minLength": 1, "pattern": noNUL,
                     "description": "Five fields (minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly, @yearly"],
            "time_zone": nullable("string", ["pattern": noNUL, "description": "An IANA time zone (default UTC)"]),
            "template": ["type": "string", "pattern": .string(TemplateName.referencePattern),
                         "description": "The template each run submits: name@version, or name / name@latest for the newest at each run"],
            "parameters": nullable("object", ["description": "The parameters of every run, checked against the template's parameters_schema"]),
            "run": nullable("object", [
                "description": .string("Further fields of each run's submission: \(API.ScheduleRequest.runFields.sorted().joined(separator: ", "))"),
                "propertyNames": ["enum": .array(API.ScheduleRequest.runFields.sorted().map { .string($0) })],
            ]),
            "concurrency_policy": nullable("string", [
                "enum": .array(Schedule.ConcurrencyPolicy.allCases.map { .string($0.rawValue) } + [.null]),
                "description": "While an earlier run is active: allow (default), forbid (skip the new one) or replace (cancel the earlier ones)",
            ]),
            "catch_up": nullable("string", [
                "enum": .array(Schedule.CatchUp.allCases.map { .string($0.rawValue) } + [.null]),
                "description": "Runs missed while no server ran: none, latest (default) or all (at most 100)",
            ]),
            "paused": nullable("boolean"),
        ], required: ["name", "cron", "template"]),
        "Schedule": object([
            "id": ["type": "string", "format": "uuid"],
            "name": ["type": "string"],
            "cron": ["type": "string"],
            "time_zone": ["type": "string"],
            "template": ["type": "string"],
            "parameters": ["type": "object"],
            "run": ["type": "object"],
            "concurrency_policy": ["type": "string", "enum": .array(Schedule.ConcurrencyPolicy.allCases.map { .string($0.rawValue) })],
            "catch_up": ["type": "string", "enum": .array(Schedule.CatchUp.allCases.map { .string($0.rawValue) })],
            "paused": ["type": "boolean"],
            "owner": ["type": "string"],
            "created_at": time,
            "next_due_at": ["oneOf": [time, ["type": "null"]], "description": "The next run's time; null while paused or when it never comes"],
            "last_due_at": ["oneOf": [time, ["type": "null"]], "description": "The last due time handled"],
            "recent_runs": ["type": "array", "items": ref("ScheduleRun"), "description": "GET of one schedule: its 20 latest due times"],
        ], required: [
            "id", "name", "cron", "time_zone", "template", "parameters", "run", "concurrency_policy", "catch_up", "paused", "owner",
            "created_at", "next_due_at", "last_due_at",
        ]),
        "ScheduleRun": object([
            "due_at": time,
            "outcome": ["type": "string", "enum": .array(ScheduleRun.Outcome.allCases.map { .string($0.rawValue) })],
            "execution_id": ["type": ["string", "null"], "format": "uuid"],
            "detail": nullable("string"),
            "recorded_at": time,
        ], required: ["due_at", "outcome", "execution_id", "detail", "recorded_at"]),
        "ScheduleList": object(["items": ["type": "array", "items": ref("Schedule")]], required: ["items"]),
        "TokenRequest": object([
            "name": ["type": "string", "pattern": noControls, "minLength": 1, "maxLength": 100, "description": "A name for people"],
            "role": ["type": "string", "enum": .array(APIRole.allCases.map { .string($0.rawValue) })],
            "owner": ["type": ["string", "null"], "pattern": noControls, "minLength": 1, "maxLength": 100,
                      "description": "Whose executions it submits and sees (default: the name)"],
            "expires_in_seconds": ["type": ["integer", "null"], "minimum": 1, "maximum": 315_360_000, "description": "null or absent: never"],
        ], required: ["name", "role"]),
        "Token": object(tokenProperties, required: tokenRequired),
        "NewToken": object(tokenProperties.merging(["token": ["type": "string", "description": "The secret; shown only in this answer"]]) { $1 },
                           required: tokenRequired + ["token"]),
        "TokenList": object(["items": ["type": "array", "items": ref("Token")]], required: ["items"]),
        "ExecutionError": object(["code": ["type": "string"], "message": ["type": "string"]], required: ["code", "message"]),
        "ExecutionList": object([
            "items": ["type": "array", "items": ref("Execution")],
            "next": nullable("string", ["description": "Pass as `after` for the next page; null on the last page"]),
        ], required: ["items", "next"]),
        "Event": object([
            "seq": ["type": "integer"],
            "execution_id": ["type": "string", "format": "uuid"],
            "from_state": ["oneOf": [ref("State"), ["type": "null"]]],
            "to_state": ref("State"),
            "reason": ["type": "string"],
            "attempt": nullable("integer"),
            "at": time,
        ], required: ["seq", "execution_id", "from_state", "to_state", "reason", "attempt", "at"]),
        "ProgressReport": report(.progress),
        "ResultReport": report(.result),
        "EventList": object(["items": ["type": "array", "items": ref("Event")]], required: ["items"]),
        "LogChunk": object([
            "stream": ["type": "string", "enum": ["stdout", "stderr"]],
            "data": ["type": "string", "description": "The bytes as UTF-8 text (invalid sequences replaced)"],
            "timestamp": time,
            "seq": ["type": "integer", "description": "Gapless position in the execution's output, from 1"],
            "attempt": ["type": "integer"],
        ], required: ["stream", "data", "timestamp", "seq", "attempt"]),
        "Host": object([
            "name": ["type": "string"],
            "plugin": ["type": "string"],
            "health": ["oneOf": [
                object(["ok": ["type": "boolean"], "message": ["type": "string"]], required: ["ok", "message"]),
                ["type": "null"],
            ]],
            "capacity": ["oneOf": [
                object(["max_concurrent": ["type": "integer"], "running": ["type": "integer"]], required: ["max_concurrent", "running"]),
                ["type": "null"],
            ]],
            "error": ["oneOf": [ref("ExecutionError"), ["type": "null"]], "description": "Why the host is not open"],
        ], required: ["name", "plugin", "health", "capacity", "error"]),
        "HostList": object(["items": ["type": "array", "items": ref("Host")]], required: ["items"]),
        "Plugin": object([
            "file": ["type": "string"],
            "name": nullable("string"),
            "version": nullable("string"),
            "abi_version": nullable("integer"),
            "loaded": ["type": "boolean"],
            "error": nullable("string"),
        ], required: ["file", "name", "version", "abi_version", "loaded", "error"]),
        "PluginList": object(["items": ["type": "array", "items": ref("Plugin")]], required: ["items"]),
        "Status": object(["status": ["type": "string"], "checks": stringMap], required: ["status"]),
        "Problem": object([
            "type": ["type": "string", "format": "uri-reference"],
            "title": ["type": "string"],
            "status": ["type": "integer"],
            "detail": ["type": "string"],
            "code": ["type": "string", "description": "Stable machine-readable code"],
            "field": ["type": "string", "description": "The invalid field or parameter, for validation errors"],
            "request_id": ["type": "string"],
            "rule": ["type": "string", "description": "For `policy_violation`: the host policy's rule"],
            "host": ["type": "string", "description": "For `policy_violation`: the host whose policy refused"],
        ], required: ["type", "title", "status", "detail", "code"], additional: true),
    ]
}
