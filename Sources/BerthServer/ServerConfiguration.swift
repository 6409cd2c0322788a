public import BerthCore

/// How the REST server listens and what it accepts.
public struct ServerConfiguration: Sendable {
    /// The address to bind; loopback by default, so nothing is exposed unless asked.
    public var host: String = "127.0.0.1"
    /// The TCP port.
    public var port: Int = 8080
    /// The largest request body accepted; a larger one gets `413` (`body_too_large`).
    public var maxBodyBytes: Int = 1 << 20
    /// The target host used when a submission names none; `nil` lets the scheduler choose.
    public var defaultHost: String?
    /// Each host's policy, by host name; a host not here accepts what Berth accepts.
    public var policies: [String: HostPolicy] = [:]
    /// Each host's labels, by host name: which policies a host selector can reach.
    public var hostLabels: [String: [String: String]] = [:]
    /// The largest request head (all header lines) accepted; a larger one closes the connection.
    public var maxHeaderBytes: Int = 16 * 1024
    /// A connection that sends no complete request part (a request head, a body chunk) for this
    /// long while no response is being written is closed: stalled and slow clients.
    public var idleTimeout: Duration = .seconds(30)
    /// A request (head and body) that has not arrived in full this long after its head began
    /// has its connection closed: a client trickling its body (each byte resets the idle timeout).
    public var requestReadTimeout: Duration = .seconds(60)
    /// Log follows one token may hold open at once; one more gets `429 too_many_follows`.
    public var maxLogFollowsPerToken: Int = 8
    /// URL patterns a submission's `webhook_url` must match (`*` any run, `?` one character);
    /// empty: no webhooks. Without a list a submitter could make the server call any address
    /// it can reach.
    public var webhookURLs: [String] = []
    /// Serve HTTPS with this certificate chain and key (PEM files); `nil` serves plain HTTP.
    public var tls: TLSFiles?
    /// Serve the web dashboard at `/` (its page, script and style sheet; docs/dashboard.md).
    public var dashboard = true
    /// Serve the job-service routes (`POST /run-simulation` …) with these settings; `nil`
    /// (the default) serves none of them.
    public var jobService: JobServiceSettings?

    /// The PEM files of the API's TLS certificate chain and private key.
    public struct TLSFiles: Sendable, Hashable {
        /// The certificate, then any intermediates.
        public var certificateFile: String
        /// The private key (never logged).
        public var keyFile: String

        /// The two files.
        public init(certificateFile: String, keyFile: String) {
            self.certificateFile = certificateFile
            self.keyFile = keyFile
        }
    }

    /// A configuration.
    /// - Parameters:
    ///   - host: The address to bind.
    ///   - port: The TCP port.
    ///   - maxBodyBytes: The largest request body accepted.
    ///   - defaultHost: The target host used when a submission names none.
    ///   - policies: Each host's policy, by host name.
    public init(
        host: String = "127.0.0.1", port: Int = 8080, maxBodyBytes: Int = 1 << 20, defaultHost: String? = nil,
        policies: [String: HostPolicy] = [:]
    ) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.defaultHost = defaultHost
        self.policies = policies
    }
}
