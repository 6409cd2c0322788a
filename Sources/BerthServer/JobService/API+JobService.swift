import BerthCore
import BerthPluginKit
import Foundation
import Hummingbird
import Logging

extension API {
    /// The label on every execution started through `POST /run-simulation` (what `GET /jobs` lists).
    static let jobServiceLabel = (key: "berth.origin", value: "job-service")
    /// The variable that carries a job's `config_path` into its container (and into `job-info`).
    static let configSourceVariable = "BERTH_CONFIG_SOURCE"

    /// Handles a job-service route (``APIRoute/jobService``) for an authenticated caller.
    func respondToJobService(
        _ operation: Operation, _ settings: JobServiceSettings, _ request: Request, _ caller: Principal, context: some RequestContext
    ) async throws -> Response {
        switch operation {
        case .runSimulation: return try await runSimulation(settings, request, caller, context: context)
        case .listJobs: return try await listJobs(request, caller)
        default: break
        }
        let execution = try await execution(context, caller)
        let id = Wire.id(execution.id)
        let status = JobStatus(execution.state)
        switch operation {
        case .getJobStatus:
            return JSONBody.response([
                "job_id": .string(id), "status": .string(status.rawValue), "state": .string(execution.state.rawValue),
                "exit_code": Wire.optional(execution.exitCode) { .number(Double($0)) },
                "error": Self.jobError(execution),
            ])
        case .getJobResult:
            guard let report = try await self.context.store.report(.result, of: execution.id) else { throw Problem.noReport(.result, execution) }
            return JSONBody.response(["job_id": .string(id), "status": .string(status.rawValue), "result": .object(report.body)])
        case .getJobProgress:
            let report = try await self.context.store.report(.progress, of: execution.id)
            return JSONBody.response([
                "job_id": .string(id), "status": .string(status.rawValue),
                "progress": Wire.optional(report) { .object($0.body) }, "updated_at": Wire.optional(report?.at, Wire.time),
            ])
        case .getJobLogs:
            if let expired = execution.outputsExpiredAt { throw Problem.outputsExpired(execution, at: expired) }
            return try await jobLogs(execution, request, limit: settings.maxLogResponseBytes)
        case .stopJob:
            guard !execution.state.isTerminal else {
                throw Problem(.conflict, code: "job_finished", title: "Job finished", detail: "job \(id) has already finished (\(status.rawValue))")
            }
            defer { executions.forget(execution.id) }
            guard let after = try await self.context.control.cancel(execution.id, reason: "stopped through /stop by \(caller.owner)") else {
                throw Problem.executionNotFound(id)
            }
            context.logger.info("job stop requested", metadata: ["state": .string(after.state.rawValue)])
            return JSONBody.response([
                "job_id": .string(id), "status": .string(JobStatus(after.state).rawValue),
                "message": .string(after.state.isTerminal ? "job stopped" : "job stopping"),
            ])
        case .getJobInfo:
            return JSONBody.response(Self.jobInfo(execution))
        default:
            throw Problem.routeNotFound(method: request.method, path: request.uri.path, routes: APIRoute.jobService)
        }
    }

    private func runSimulation(_ settings: JobServiceSettings, _ request: Request, _ caller: Principal, context: some RequestContext) async throws -> Response {
        let body = try await Self.readBody(request, limit: configuration.maxBodyBytes)
        let run = try RunSimulationRequest(body: body)
        try await intake.checkTargetHost(run.targetHost)
        let targetHost = run.targetHost ?? configuration.defaultHost
        var env = settings.env
        let config: [String: JSONValue]
        if let path = run.configPath {
            config = try JobConfigFile.read(path, folder: settings.configFolder, maxBytes: configuration.maxBodyBytes)
            env[Self.configSourceVariable] = path
        } else {
            config = run.config ?? [:]
        }
        var new = NewExecution(
            owner: caller.owner, image: settings.image, command: settings.command, args: settings.args, env: env,
            targetHost: targetHost, labels: [Self.jobServiceLabel.key: Self.jobServiceLabel.value], timeoutSeconds: settings.timeoutSeconds)
        new.config = JSONValue.object(config).jsonText
        if let host = targetHost, let violation = configuration.policies[host]?.violation(by: new) {
            throw Problem.policyViolation(violation, host: host)
        }
        let execution = try await self.context.store.createExecution(new)
        context.logger.info("job submitted", metadata: ["execution.id": .string(Wire.id(execution.id)), "image": .string(execution.image)])
        return JSONBody.response([
            "job_id": .string(Wire.id(execution.id)), "status": .string(JobStatus(execution.state).rawValue),
            "target_host": Wire.optional(execution.targetHost) { .string($0) }, "message": "simulation submitted",
        ])
    }

    private func listJobs(_ request: Request, _ caller: Principal) async throws -> Response {
        let parameters = request.uri.queryParameters
        var query = ExecutionQuery(limit: 100)
        query.labels = [Self.jobServiceLabel.key: Self.jobServiceLabel.value]
        if caller.role == .submitter { query.owner = caller.owner }
        if let text = parameters["status"] {
            guard let status = JobStatus(rawValue: String(text)) else {
                throw Problem.invalid("status", "not a job status: '\(text)' (one of \(JobStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            query.states = status.states
        }
        if let text = parameters["limit"] {
            guard let limit = Int(text), (1...500).contains(limit) else {
                throw Problem.invalid("limit", "must be an integer from 1 to 500, found '\(text)'", code: "out_of_range")
            }
            query.limit = limit
        }
        let jobs = try await context.store.listExecutions(query).executions.map { execution -> JSONValue in
            [
                "job_id": .string(Wire.id(execution.id)), "status": .string(JobStatus(execution.state).rawValue),
                "target_host": Wire.optional(execution.targetHost) { .string($0) }, "host": Wire.optional(execution.host) { .string($0) },
                "config_path": Wire.optional(execution.env[Self.configSourceVariable]) { .string($0) },
                "created_at": Wire.time(execution.createdAt), "finished_at": Wire.optional(execution.finishedAt, Wire.time),
            ]
        }
        return JSONBody.response(["jobs": .array(jobs), "count": .number(Double(jobs.count))])
    }

    /// The output as one string: the last `tail` lines when asked, and at most `limit` bytes (the
    /// end; the cut made at a line start when one is near).
    private func jobLogs(_ execution: Execution, _ request: Request, limit: Int) async throws -> Response {
        var query = LogQuery(executionID: execution.id, limit: 200)
        var newestFirst: [[UInt8]] = []
        var truncated = false
        if let text = request.uri.queryParameters["tail"] {
            guard let lines = Int(text), (0...LogTail.maxLines).contains(lines) else {
                throw Problem.invalid("tail", "must be an integer from 0 to \(LogTail.maxLines), found '\(text)'", code: "out_of_range")
            }
            newestFirst = try await LogTail.read(context.store, query, lines: lines).reversed().map(\.bytes)
        } else {
            // Read backwards until the limit: the end of a long output without reading all of it.
            query.newestFirst = true
            var bytes = 0
            reading: while true {
                let page = try await context.store.logs(query)
                for chunk in page {
                    newestFirst.append(chunk.bytes)
                    bytes += chunk.bytes.count
                    if bytes > limit { break reading }
                }
                guard page.count == query.limit, let oldest = page.last else { break }
                query.beforeSeq = oldest.seq
            }
        }
        var output = Array(newestFirst.reversed().joined())
        if output.count > limit {
            truncated = true
            var start = output.count - limit
            if let newline = output[start...].prefix(4096).firstIndex(of: UInt8(ascii: "\n")) { start = newline + 1 }
            output = Array(output[start...])
        }
        return JSONBody.response([
            "job_id": .string(Wire.id(execution.id)), "status": .string(JobStatus(execution.state).rawValue),
            "logs": .string(String(decoding: output, as: UTF8.self)), "truncated": .bool(truncated),
        ])
    }

    private static func jobError(_ execution: Execution) -> JSONValue {
        if let error = execution.error { return .string(error.message) }
        guard execution.state.isTerminal, execution.state != .succeeded else { return .null }
        return Wire.optional(execution.stateReason) { .string($0) }
    }

    private static func jobInfo(_ execution: Execution) -> JSONValue {
        let handle = execution.currentAttempt.flatMap { try? JSONValue(parsing: $0.runtimeHandle) }
        return [
            "job_id": .string(Wire.id(execution.id)), "status": .string(JobStatus(execution.state).rawValue),
            "state": .string(execution.state.rawValue), "state_reason": Wire.optional(execution.stateReason) { .string($0) },
            "owner": .string(execution.owner), "image": .string(execution.image),
            "target_host": Wire.optional(execution.targetHost) { .string($0) }, "host": Wire.optional(execution.host) { .string($0) },
            "config_path": Wire.optional(execution.env[configSourceVariable]) { .string($0) },
            "config": Wire.optional(execution.config.flatMap { try? JSONValue(parsing: $0) }) { $0 },
            "exit_code": Wire.optional(execution.exitCode) { .number(Double($0)) }, "error": jobError(execution),
            "attempts": .number(Double(execution.attempts)),
            "container_id": Wire.optional(handle?["id"]?.stringValue) { .string($0) },
            "runtime_handle": handle.flatMap { $0.objectValue != nil ? $0 : nil } ?? .null,
            "created_at": Wire.time(execution.createdAt), "started_at": Wire.optional(execution.startedAt, Wire.time),
            "finished_at": Wire.optional(execution.finishedAt, Wire.time),
        ]
    }
}
