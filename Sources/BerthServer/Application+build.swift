public import Hummingbird
import HummingbirdCore
import NIOCore
public import Logging

/// Builds the REST application: what `berth serve` runs and what the tests drive.
///
/// The application only serves HTTP; the Store, the PluginHost and the Scheduler in `context`
/// are run (and shut down) by the caller's service group.
/// - Parameters:
///   - configuration: Where to listen and what to accept.
///   - context: The Store, the plugins and the execution control.
///   - logger: The server's logger; each request adds its id, method and path.
public func buildApplication(
    configuration: ServerConfiguration, context: ServerContext, logger: Logger
) async -> some ApplicationProtocol {
    let router = buildRouter(configuration: configuration, context: context)
    let limits = HTTP1Channel.Configuration.DecoderConfiguration(
        maxHeaderFieldSize: configuration.maxHeaderBytes, maxHeaderListSize: configuration.maxHeaderBytes, maxHeaderFieldCount: 100)
    let idle = configuration.idleTimeout.components
    return Application(
        router: router,
        server: .http1(configuration: HTTP1Channel.Configuration(
            idleTimeout: .nanoseconds(idle.seconds * 1_000_000_000 + idle.attoseconds / 1_000_000_000),
            httpDecoderConfiguration: limits)),
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: configuration.port), serverName: "berth"),
        logger: logger)
}

/// The router: the problem middleware, then one route per entry of ``APIRoute/all``.
func buildRouter(configuration: ServerConfiguration, context: ServerContext) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    // Added first, so it wraps every route and the router's "not found" responder.
    router.add(middleware: ProblemMiddleware<BasicRequestContext>())
    let api = API(configuration: configuration, context: context, follows: FollowLimiter(limit: configuration.maxLogFollowsPerToken))
    for route in APIRoute.all {
        let operation = route.operation
        router.on(RouterPath(route.path), method: route.method) { request, requestContext in
            try await api.respond(to: operation, request, context: requestContext)
        }
    }
    return router
}
