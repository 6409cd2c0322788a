import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL

/// One HTTPS listener of the double on 127.0.0.1 with an ephemeral port.
final class DoubleListener: Sendable {
    /// The port it listens on.
    let port: Int
    private let task: Task<Void, Never>

    private init(port: Int, task: Task<Void, Never>) {
        self.port = port
        self.task = task
    }

    /// Starts listening with `tls`, answering with `server`; returns once the port is known.
    static func start(server: APIServer, tls: TLSConfiguration, logger: Logger) async throws(KubernetesDoubleError) -> DoubleListener {
        let (ports, continuation) = AsyncStream<Int?>.makeStream()
        let builder: HTTPServerBuilder
        do {
            builder = try .tls(.http1(), tlsConfiguration: tls)
        } catch {
            throw KubernetesDoubleError("cannot set up TLS: \(error)")
        }
        let app = Application(
            responder: CallbackResponder<BasicRequestContext> { request, _ in await server.respond(to: request) },
            server: builder,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port)
                continuation.finish()
            },
            logger: logger)
        let task = Task {
            do {
                try await app.run()
            } catch {
                logger.error("Kubernetes double listener stopped: \(error)")
            }
            continuation.finish()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() ?? nil else {
            task.cancel()
            await task.value
            throw KubernetesDoubleError("the HTTPS listener did not start on 127.0.0.1")
        }
        return DoubleListener(port: port, task: task)
    }

    /// Stops listening and closes its connections.
    func stop() async {
        task.cancel()
        await task.value
    }
}
