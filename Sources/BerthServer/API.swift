import BerthCore
import BerthPluginKit
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// The handlers of every ``Operation``.
struct API: Sendable {
    let configuration: ServerConfiguration
    let context: ServerContext
    /// The open log follows per token.
    let follows: FollowLimiter
    /// `GET /openapi.json`, made once for this server's hosts.
    let openAPIDocument: JSONValue
    /// Recently used tokens' records.
    let tokens: NotifiedCache<TokenCredential>
    /// Recently read executions (the reads of every per-execution route).
    let executions: NotifiedCache<Execution>

    /// What checks submissions and makes them executions.
    var intake: SubmissionIntake { SubmissionIntake(configuration: configuration, context: context) }

    /// Handles `operation`: authenticates the request (unless the route is public), checks that
    /// the token's role may call the route, refuses query parameters it does not declare, and
    /// answers. A submitter sees only its own executions: another owner's is 404 to it.
    func respond(to operation: Operation, _ request: Request, context: some RequestContext) async throws -> Response {
        let route = APIRoute.of(operation)
        var context = context
        var principal: Principal?
        if !route.roles.isEmpty {
            let caller = try await Authenticator(store: self.context.store, cache: tokens).principal(for: request)
            context.logger[metadataKey: "token.id"] = .string(Wire.id(caller.tokenID))
            guard route.roles.contains(caller.role) else {
                throw Problem.forbidden("a \(caller.role.rawValue) token may not \(route.forbiddenAction)")
            }
            principal = caller
        }
        try Self.checkQuery(request, route)
        if route.hasIDParameter, let id = context.parameters.get("id") {
            let key = switch route.tag {
            case "tokens": "token.target"
            case "templates": "template"
            case "schedules": "schedule"
            default: "execution.id"
            }
            context.logger[metadataKey: key] = .string(id)
        }
        switch (operation, principal) {
        case (.submitExecution, let caller?): return try await submit(request, caller, context: context)
        case (.listExecutions, let caller?): return try await list(request, caller)
        case (.getExecution, let caller?): return JSONBody.response(Wire.execution(try await execution(context, caller)))
        case (.cancelExecution, let caller?): return try await cancel(context, caller)
        case (.getExecutionLogs, let caller?):
            let execution = try await execution(context, caller)
            if let expired = execution.outputsExpiredAt { throw Problem.outputsExpired(execution, at: expired) }
            return try await LogResponder(store: self.context.store, follows: follows)
                .respond(request, id: execution.id, token: caller.tokenID, logger: context.logger)
        case (.listExecutionEvents, let caller?): return try await events(context, caller)
        case (.getExecutionProgress, let caller?): return try await report(.progress, context, caller)
        case (.getExecutionResult, let caller?): return try await report(.result, context, caller)
        case (.getExecutionArtifacts, let caller?): return try await artifacts(context, caller)
        case (.streamEvents, let caller?):
            return try await EventStreamResponder(store: self.context.store, follows: follows)
                .respond(request, caller: caller, logger: context.logger)
        case (.listHosts, _): return JSONBody.response(["items": .array(await SystemStatus.hosts(self.context.plugins))])
        case (.listPlugins, _): return JSONBody.response(["items": .array(await SystemStatus.plugins(self.context.plugins))])
        case (.healthz, _): return JSONBody.response(["status": "alive"])
        case (.readyz, _): return try await SystemStatus.ready(self.context, logger: context.logger)
        case (.openAPI, _): return JSONBody.response(openAPIDocument)
        case (.metrics, _): return try await MetricsEndpoint.response(self.context)
        case (.createToken, _): return try await createToken(request, context: context)
        case (.listTokens, _): return try await listTokens()
        case (.revokeToken, _): return try await revokeToken(context)
        case (.createTemplate, let caller?): return try await createTemplate(request, caller)
        case (.listTemplates, _): return try await listTemplates(request)
        case (.getTemplate, _): return JSONBody.response(Wire.template(try await template(context)))
        case (.deprecateTemplate, let caller?): return try await deprecateTemplate(request, caller, context: context)
        case (.createSchedule, let caller?): return try await createSchedule(request, caller)
        case (.listSchedules, let caller?): return try await listSchedules(caller)
        case (.getSchedule, let caller?): return try await showSchedule(context, caller)
        case (.pauseSchedule, let caller?): return try await pauseSchedule(context, caller, paused: true)
        case (.resumeSchedule, let caller?): return try await pauseSchedule(context, caller, paused: false)
        case (.deleteSchedule, let caller?): return try await deleteSchedule(context, caller)
        case (.runSimulation, let caller?), (.getJobStatus, let caller?), (.getJobResult, let caller?), (.getJobProgress, let caller?),
             (.getJobLogs, let caller?), (.stopJob, let caller?), (.listJobs, let caller?), (.getJobInfo, let caller?):
            guard let settings = configuration.jobService else {
                throw Problem.routeNotFound(method: request.method, path: request.uri.path, routes: APIRoute.all)
            }
            return try await respondToJobService(operation, settings, request, caller, context: context)
        case (.jobServiceHealth, _): return JSONBody.response(["status": "healthy"])
        case (.submitExecution, nil), (.listExecutions, nil), (.getExecution, nil), (.cancelExecution, nil),
             (.getExecutionLogs, nil), (.listExecutionEvents, nil), (.getExecutionProgress, nil), (.getExecutionResult, nil),
             (.getExecutionArtifacts, nil), (.streamEvents, nil), (.runSimulation, nil), (.getJobStatus, nil), (.getJobResult, nil),
             (.getJobProgress, nil), (.getJobLogs, nil), (.stopJob, nil), (.listJobs, nil), (.getJobInfo, nil),
             (.createTemplate, nil), (.deprecateTemplate, nil), (.createSchedule, nil), (.listSchedules, nil), (.getSchedule, nil),
             (.pauseSchedule, nil), (.resumeSchedule, nil), (.deleteSchedule, nil):
            throw Problem.unauthenticated("this route needs an API token")
        }
    }

    // MARK: Executions

    private func submit(_ request: Request, _ caller: Principal, context: some RequestContext) async throws -> Response {
        let body = try JSONRequestBody.parse(try await Self.readBody(request, limit: configuration.maxBodyBytes))
        let key = request.headers[HTTPField.Name("Idempotency-Key")!]
        if let key {
            guard !key.isEmpty, key.count <= IdempotencyKey.maxLength else {
                throw Problem.invalid("Idempotency-Key", "must be 1 to \(IdempotencyKey.maxLength) characters", code: "invalid_header")
            }
        }
        let id = key.map { IdempotencyKey.executionID(key: $0, owner: caller.owner) }
        let new = try await intake.newExecution(body, owner: caller.owner, id: id)
        var logger = context.logger
        let execution: Execution
        do {
            execution = try await self.context.store.createExecution(new)
        } catch {
            guard error.code == .conflict, let id else { throw error }
            // The Idempotency-Key was seen before: answer with what the first request created.
            return try await replay(id: id, new: new, logger: logger)
        }
        logger[metadataKey: "execution.id"] = .string(Wire.id(execution.id))
        logger.info("execution submitted", metadata: ["image": .string(execution.image)])
        return JSONBody.response(Wire.execution(execution), status: .created)
    }

    /// The answer to a submission whose Idempotency-Key maps to an existing execution.
    private func replay(id: UUID, new: NewExecution, logger: Logger) async throws -> Response {
        var logger = logger
        logger[metadataKey: "execution.id"] = .string(Wire.id(id))
        guard let existing = try await self.context.store.execution(id: id) else {
            throw StoreError(code: .conflict, message: "duplicate execution id but no execution found", executionID: id)
        }
        guard matches(existing, new, sealer: context.sealer) else {
            throw Problem(
                .conflict, code: "idempotency_key_reused", title: "Idempotency key reused",
                detail: "the Idempotency-Key was already used for a different submission (execution \(Wire.id(id)))")
        }
        logger.info("idempotent submission replayed")
        var response = JSONBody.response(Wire.execution(existing), status: .created)
        response.headers[HTTPField.Name("Idempotent-Replayed")!] = "true"
        return response
    }

    private func list(_ request: Request, _ caller: Principal) async throws -> Response {
        let parameters = request.uri.queryParameters
        var query = ExecutionQuery(limit: 50)
        if caller.role == .submitter { query.owner = caller.owner }
        for value in parameters[values: "state"] {
            for part in value.split(separator: ",", omittingEmptySubsequences: false) {
                guard let state = ExecutionState(rawValue: String(part)) else {
                    throw Problem.invalid(
                        "state", "not a state: '\(part)' (states: \(ExecutionState.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                query.states.insert(state)
            }
        }
        query.host = parameters["host"].map(String.init)
        query.name = parameters["name"].map(String.init)
        // No stored text holds NUL, so no filter with one can match, and the database refuses it.
        for (field, value) in [("host", query.host), ("name", query.name)] where value?.unicodeScalars.contains("\u{0}") == true {
            throw Problem.invalid(field, "must not contain NUL characters")
        }
        for value in parameters[values: "label"] {
            guard !value.unicodeScalars.contains("\u{0}") else { throw Problem.invalid("label", "must not contain NUL characters") }
            // By scalar, not by Character: "=" followed by a combining mark is one Character.
            let scalars = value.unicodeScalars
            guard let equals = scalars.firstIndex(of: "="), equals != scalars.startIndex else {
                throw Problem.invalid("label", "expected key=value, found '\(value)'")
            }
            query.labels[String(scalars[..<equals])] = String(scalars[scalars.index(after: equals)...])
        }
        if let text = parameters["limit"] {
            guard let limit = Int(text), (1...500).contains(limit) else {
                throw Problem.invalid("limit", "must be an integer from 1 to 500, found '\(text)'", code: "out_of_range")
            }
            query.limit = limit
        }
        if let token = parameters["after"], !token.isEmpty {
            guard let cursor = ExecutionCursor(token: String(token)) else {
                throw Problem.invalid("after", "not a cursor from a previous page's 'next'", code: "invalid_cursor")
            }
            query.after = cursor
        }
        let page = try await context.store.listExecutions(query)
        return JSONBody.response([
            "items": .array(page.executions.map(Wire.execution)),
            "next": page.next.map { .string($0.token) } ?? .null,
        ])
    }

    /// The execution of the path, when `caller` may see it; else 404, as if it did not exist.
    func execution(_ requestContext: some RequestContext, _ caller: Principal) async throws -> Execution {
        let id = try executionID(requestContext)
        let store = context.store
        guard let execution = try await executions.value(id, load: { try await store.execution(id: id) }), caller.sees(execution) else {
            throw Problem.executionNotFound(Wire.id(id))
        }
        return execution
    }

    private func cancel(_ requestContext: some RequestContext, _ caller: Principal) async throws -> Response {
        let id = try await execution(requestContext, caller).id
        defer { executions.forget(id) }
        guard let execution = try await context.control.cancel(id, reason: "cancelled through the API by \(caller.owner)") else {
            throw Problem.executionNotFound(Wire.id(id))
        }
        requestContext.logger.info("execution cancel requested", metadata: ["state": .string(execution.state.rawValue)])
        return JSONBody.response(Wire.execution(execution))
    }

    /// The execution's latest report of `kind`; 404 `no_progress` or `no_result` when it made none.
    private func report(_ kind: ExecutionReport.Kind, _ requestContext: some RequestContext, _ caller: Principal) async throws -> Response {
        let execution = try await execution(requestContext, caller)
        guard let report = try await context.store.report(kind, of: execution.id) else {
            throw Problem.noReport(kind, execution)
        }
        return JSONBody.response(Wire.report(report))
    }

    /// The latest attempt's collected outputs, streamed from the Store as the tar archive they are.
    private func artifacts(_ requestContext: some RequestContext, _ caller: Principal) async throws -> Response {
        let execution = try await execution(requestContext, caller)
        if let expired = execution.outputsExpiredAt { throw Problem.outputsExpired(execution, at: expired) }
        guard let set = try await context.store.artifactSet(of: execution.id) else { throw Problem.noArtifacts(execution) }
        guard set.complete else {
            throw Problem(
                .conflict, code: "artifacts_unavailable", title: "Outputs not available",
                detail: "the outputs of attempt \(set.attempt) " + (set.error.map { "were not kept: \($0)" } ?? "are still being collected"))
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/x-tar"
        headers[.contentLength] = String(set.bytes)
        headers[.contentDisposition] = "attachment; filename=\"\(Wire.id(execution.id))-attempt-\(set.attempt).tar\""
        let store = context.store
        let body = ResponseBody { writer in
            var after = 0
            while true {
                let chunks = try await store.artifactChunks(of: set.executionID, attempt: set.attempt, afterSeq: after, limit: 4)
                for chunk in chunks {
                    try await writer.write(ByteBuffer(bytes: chunk.data))
                    after = chunk.seq
                }
                if chunks.count < 4 { break }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }

    private func events(_ requestContext: some RequestContext, _ caller: Principal) async throws -> Response {
        let execution = try await execution(requestContext, caller)
        var events: [ExecutionEvent] = []
        var after: Int64?
        while true {
            let page = try await context.store.events(of: execution.id, afterSeq: after, limit: 1000)
            events += page
            guard page.count == 1000, let last = page.last else { break }
            after = last.seq
        }
        return JSONBody.response(["items": .array(events.map(Wire.event))])
    }

    // MARK: Helpers

    /// The `{id}` of the path; 404 when it is not a UUID.
    func executionID(_ requestContext: some RequestContext) throws(Problem) -> UUID {
        let text = requestContext.parameters.get("id") ?? ""
        guard let id = UUID(uuidString: text) else { throw Problem.executionNotFound(text) }
        return id
    }

    /// The request body, refusing more than `limit` bytes with 413.
    static func readBody(_ request: Request, limit: Int) async throws -> [UInt8] {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw Problem.bodyTooLarge(limit: limit)
        }
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: limit)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw Problem.bodyTooLarge(limit: limit)
        }
        return Array(buffer.readableBytesView)
    }

    /// Refuses query parameters that `route` does not declare (typos such as `states=`).
    static func checkQuery(_ request: Request, _ route: APIRoute) throws(Problem) {
        let allowed = Set(route.query.map(\.name))
        for (key, _) in request.uri.queryParameters where !allowed.contains(String(key)) {
            throw Problem.invalid(
                String(key),
                allowed.isEmpty ? "this route takes no query parameters"
                    : "unknown query parameter; allowed: \(allowed.sorted().joined(separator: ", "))",
                code: "unknown_parameter")
        }
    }
}
