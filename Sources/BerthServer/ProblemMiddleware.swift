import BerthCore
import Foundation
import Hummingbird
import Logging
import NIOHTTP1

/// Logs each request with its metadata and turns every error into problem details.
///
/// - ``Problem``s are rendered as they are (with the request id added);
/// - Hummingbird's own `HTTPError`s (the router's 404, a body over the limit) become the
///   matching problem;
/// - a ``StoreError`` that says the database is unreachable becomes `503`, and one that says
///   "not found" `404`;
/// - anything else is logged with its details and answered with a generic `500`: no internals
///   reach the client.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The routes the server registered: a path of one of them with another method is `405`.
    let routes: [APIRoute]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.logger[metadataKey: "http.method"] = .string(request.method.rawValue)
        context.logger[metadataKey: "http.path"] = .string(request.uri.path)
        let requestID = context.logger[metadataKey: "hb.request.id"]?.description
        let started = ContinuousClock.now
        var problem: Problem
        do {
            let response = try await next(request, context)
            context.logger.info("request", metadata: [
                "http.status": "\(response.status.code)", "duration_ms": "\(Self.milliseconds(since: started))",
            ])
            return response
        } catch let error as Problem {
            problem = error
        } catch let error as HTTPError {
            problem = self.problem(for: error, request: request)
        } catch let error as StoreError where error.code == .unavailable {
            context.logger.error("database unavailable", metadata: ["error": "\(error)"])
            problem = .unavailable("the database is unavailable; try again later")
        } catch let error as StoreError where error.code == .notFound {
            problem = Problem(.notFound, code: "not_found", title: "Not found", detail: "the requested item does not exist")
        } catch let error as HTTPParserError {
            // The request broke off or was not HTTP (a body shorter than its Content-Length,
            // then the connection closed): the client's fault, and usually no one to answer.
            problem = Problem(.badRequest, code: "malformed_request", title: "Malformed request",
                              detail: "the request could not be read: \(error.debugDescription)")
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            problem = Problem(.contentTooLarge, code: "body_too_large", title: "Request body too large",
                              detail: "the request body is too large")
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            problem = .internalError(requestID: requestID)
        }
        problem.requestID = requestID
        let level: Logger.Level = problem.status == .internalServerError ? .error : problem.status.code >= 500 ? .warning : .info
        context.logger.log(level: level, "request", metadata: [
            "http.status": "\(problem.status.code)", "problem.code": "\(problem.code)",
            "duration_ms": "\(Self.milliseconds(since: started))",
        ])
        return try problem.response(from: request, context: context)
    }

    private func problem(for error: HTTPError, request: Request) -> Problem {
        switch error.status {
        case .notFound: .routeNotFound(method: request.method, path: request.uri.path, routes: routes)
        case .contentTooLarge: Problem(.contentTooLarge, code: "body_too_large", title: "Request body too large",
                                       detail: error.body ?? "the request body is too large")
        default: Problem(error.status, code: "http_\(error.status.code)", title: error.status.reasonPhrase,
                         detail: error.body ?? error.status.reasonPhrase)
        }
    }

    private static func milliseconds(since start: ContinuousClock.Instant) -> Int64 {
        let elapsed = ContinuousClock.now - start
        return elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
    }
}
