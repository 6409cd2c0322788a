public import BerthHTTP
public import BerthPluginKit
import CCurl
import Synchronization

/// An ``HTTPTransport`` on libcurl: a unix socket (Docker's) or an HTTP(S) base URL.
///
/// All exchanges share one ``CurlLoop`` thread, so a hundred followed streams cost one thread
/// and keep-alive connections are reused between requests.
public final class CurlTransport: HTTPTransport {
    /// Where requests go.
    public enum Endpoint: Sendable, Hashable {
        /// HTTP over a unix socket at this path.
        case unixSocket(String)
        /// HTTP or HTTPS at this base URL (`https://10.0.0.1:6443`).
        case url(String)
    }

    /// The endpoint.
    public let endpoint: Endpoint
    /// Seconds allowed for connecting.
    public let connectTimeout: Double
    /// TLS for an `https` endpoint; nil: the system's trust store, no client certificate.
    public let tls: CurlTLS?
    private let loop: CurlLoop

    /// A transport to `endpoint`.
    public init(endpoint: Endpoint, connectTimeout: Double = 5, tls: CurlTLS? = nil) {
        self.endpoint = endpoint
        self.connectTimeout = connectTimeout
        self.tls = tls
        self.loop = CurlLoop(name: "berth-curl")
    }

    deinit {
        loop.stop()
    }

    public var endpointDescription: String {
        switch endpoint {
        case .unixSocket(let path): "unix://\(path)"
        case .url(let url): url
        }
    }

    private func makeTransfer(
        _ request: HTTPRequest,
        onHead: @escaping (Int, [String: String]) -> Void,
        onBody: @escaping ([UInt8]) -> Void,
        onComplete: @escaping (CurlFailure?) -> Void
    ) throws(PluginError) -> CurlTransfer {
        guard let easy = curl_easy_init() else { throw PluginError(.internal, "curl_easy_init failed") }
        let transfer = CurlTransfer(easy: easy, onHead: onHead, onBody: onBody, onComplete: onComplete)
        let (url, socket): (String, String?) = switch endpoint {
        case .unixSocket(let path): ("http://localhost" + request.path, path)
        case .url(let base): (base + request.path, nil)
        }
        do {
            try transfer.configure(
                url: url,
                request: HTTPRequestOptions(
                    method: request.method, headers: request.headers, body: request.body,
                    timeout: request.timeout, connectTimeout: connectTimeout, unixSocket: socket, tls: tls))
        } catch {
            throw PluginError(.internal, "cannot set up a request to \(endpointDescription): \(error.message)")
        }
        return transfer
    }

    /// Turns a transfer failure into the plugin error a user can act on.
    private func error(_ failure: CurlFailure, _ request: HTTPRequest) -> PluginError {
        switch failure.code {
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING:
            return PluginError(.unavailable, "cannot reach \(endpointDescription): \(failure.message)")
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM:
            return PluginError(.permissionDenied, "TLS with \(endpointDescription) failed: \(failure.message)", retryable: false)
        case CURLE_OPERATION_TIMEDOUT:
            return PluginError(.timeout, "\(request.method) \(request.path) on \(endpointDescription) timed out: \(failure.message)")
        default:
            return PluginError(.unavailable, "\(request.method) \(request.path) on \(endpointDescription) failed: \(failure.message)")
        }
    }

    public func send(_ request: HTTPRequest) async throws(PluginError) -> HTTPResponse {
        let collected = Mutex(HTTPResponse(status: 0))
        let result: Result<HTTPResponse, PluginError> = await withUnsafeContinuation { continuation in
            do throws(PluginError) {
                let transfer = try makeTransfer(
                    request,
                    onHead: { status, headers in
                        collected.withLock { $0.status = status; $0.headers = headers }
                    },
                    onBody: { bytes in collected.withLock { $0.body.append(contentsOf: bytes) } },
                    onComplete: { failure in
                        if let failure {
                            continuation.resume(returning: .failure(self.error(failure, request)))
                        } else {
                            continuation.resume(returning: .success(collected.withLock { $0 }))
                        }
                    })
                loop.add(transfer)
            } catch {
                continuation.resume(returning: .failure(error))
            }
        }
        return try result.get()
    }

    public func stream(_ request: HTTPRequest) -> AsyncThrowingStream<HTTPStreamPart, any Error> {
        let (stream, continuation) = AsyncThrowingStream<HTTPStreamPart, any Error>.makeStream()
        do {
            let transfer = try makeTransfer(
                request,
                onHead: { status, headers in continuation.yield(.head(status: status, headers: headers)) },
                onBody: { bytes in continuation.yield(.body(bytes)) },
                onComplete: { failure in
                    if let failure, failure.code != CURLE_ABORTED_BY_CALLBACK {
                        continuation.finish(throwing: self.error(failure, request))
                    } else {
                        continuation.finish()
                    }
                })
            let loop = self.loop
            continuation.onTermination = { termination in
                if case .cancelled = termination { loop.cancel(transfer) }
            }
            loop.add(transfer)
        } catch {
            continuation.finish(throwing: error)
        }
        return stream
    }
}
