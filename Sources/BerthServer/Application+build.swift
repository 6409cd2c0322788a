public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOCore
import NIOSSL
public import Logging
import BerthCore

/// Builds the REST application: what `berth serve` runs and what the tests drive.
///
/// The application only serves HTTP (HTTPS with ``ServerConfiguration/tls``); the Store, the
/// PluginHost and the Scheduler in `context` are run (and shut down) by the caller's service
/// group.
/// - Parameters:
///   - configuration: Where to listen and what to accept.
///   - context: The Store, the plugins and the execution control.
///   - logger: The server's logger; each request adds its id, method and path.
/// - Throws: ``ServerSetupError`` when the TLS certificate or key cannot be loaded.
public func buildApplication(
    configuration: ServerConfiguration, context: ServerContext, logger: Logger
) async throws(ServerSetupError) -> some ApplicationProtocol {
    let router = buildRouter(configuration: configuration, context: context)
    let limits = HTTP1Channel.Configuration.DecoderConfiguration(
        maxHeaderFieldSize: configuration.maxHeaderBytes, maxHeaderListSize: configuration.maxHeaderBytes, maxHeaderFieldCount: 100)
    let readTimeout = timeAmount(configuration.requestReadTimeout)
    let http1 = HTTPServerBuilder.http1(configuration: HTTP1Channel.Configuration(
        additionalChannelHandlers: [RequestReadDeadline(deadline: readTimeout)],
        idleTimeout: timeAmount(configuration.idleTimeout),
        httpDecoderConfiguration: limits))
    var server = http1
    if let tls = configuration.tls {
        server = try tlsServer(http1, tls)
    }
    return Application(
        router: router,
        server: server,
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: configuration.port), serverName: "berth"),
        logger: logger)
}

/// `duration` as NIO's time type.
private func timeAmount(_ duration: Duration) -> TimeAmount {
    let components = duration.components
    return .nanoseconds(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000)
}

/// `http1` wrapped in TLS with the certificate chain and key of `files`.
private func tlsServer(_ http1: HTTPServerBuilder, _ files: ServerConfiguration.TLSFiles) throws(ServerSetupError) -> HTTPServerBuilder {
    let chain: [NIOSSLCertificate]
    do {
        chain = try NIOSSLCertificate.fromPEMFile(files.certificateFile)
    } catch {
        throw ServerSetupError("cannot read the TLS certificate \(files.certificateFile): \(error)")
    }
    guard !chain.isEmpty else { throw ServerSetupError("the TLS certificate file \(files.certificateFile) holds no certificate") }
    let key: NIOSSLPrivateKey
    do {
        key = try NIOSSLPrivateKey(file: files.keyFile, format: .pem)
    } catch {
        throw ServerSetupError("cannot read the TLS private key \(files.keyFile) (a PEM key, unencrypted)")
    }
    var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    tls.minimumTLSVersion = .tlsv12
    do {
        return try .tls(http1, tlsConfiguration: tls)
    } catch {
        throw ServerSetupError("cannot set up TLS with \(files.certificateFile) and \(files.keyFile): \(error)")
    }
}

/// The API server could not be set up; the message names the file or setting.
public struct ServerSetupError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, naming the file.
    public let description: String

    init(_ description: String) { self.description = description }
}

/// The router: the problem middleware, then one route per entry of ``APIRoute/all`` (and of
/// ``APIRoute/jobService`` when the configuration asks for those), and the dashboard's files
/// unless it is turned off.
func buildRouter(configuration: ServerConfiguration, context: ServerContext) -> Router<BasicRequestContext> {
    let routes = APIRoute.table(jobService: configuration.jobService != nil)
    let router = Router(context: BasicRequestContext.self)
    // Added first, so it wraps every route and the router's "not found" responder.
    router.add(middleware: ProblemMiddleware<BasicRequestContext>(routes: routes))
    let api = API(
        configuration: configuration, context: context, follows: FollowLimiter(limit: configuration.maxLogFollowsPerToken),
        openAPIDocument: OpenAPIDocument.document(
            routes: routes, targetHosts: context.plugins.configuration.hosts.map(\.name), webhookURLs: configuration.webhookURLs),
        tokens: .tokens(context.store), executions: .executions(context.store))
    for route in routes {
        let operation = route.operation
        router.on(RouterPath(route.path), method: route.method) { request, requestContext in
            try await api.respond(to: operation, request, context: requestContext)
        }
    }
    if configuration.dashboard { DashboardAsset.register(on: router) }
    return router
}
