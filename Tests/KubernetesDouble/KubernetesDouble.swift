public import BerthPluginKit
import Foundation
import Logging
import NIOSSL
import Synchronization

/// A stand-in for the parts of a Kubernetes API server (v1.30) that a backend plugin uses,
/// speaking the real wire format over HTTPS, so the plugin under test cannot tell.
///
/// One namespace and one node. `batch/v1` Jobs make one pod each, whose container really runs
/// on the test Docker engine (network `none`), so logs and exit codes are real; pods go through
/// scheduling (nodeSelector), image pulls (with the kubelet's `ErrImagePull`/`ImagePullBackOff`),
/// running, and their end (exit code, `OOMKilled`, `DeadlineExceeded`), each change a new
/// resourceVersion and a watch event. Errors are `Status` objects worded as the real server
/// words them.
///
/// Two listeners share the state: ``tokenURL`` takes bearer tokens (``token`` may do
/// everything; ``forbiddenToken`` authenticates but is refused on Jobs and pods), and
/// ``certificateURL`` wants a client certificate signed by the double's CA
/// (``clientCertificatePEM``). ``writeKubeconfig(to:useCertificate:namespace:contextName:)``
/// writes a kubeconfig for either. Call ``stop()`` at the end: it removes every container the
/// double made.
public final class KubernetesDouble: Sendable {
    /// `https://127.0.0.1:PORT`: the listener that takes bearer tokens (no client certificate).
    public let tokenURL: String
    /// `https://127.0.0.1:PORT`: the listener that wants a client certificate signed by the CA.
    public let certificateURL: String
    /// The CA that signed the server's and the client's certificates (PEM).
    public let caPEM: [UInt8]
    /// A client certificate (CN=berth, O=berth) the certificate listener accepts (PEM).
    public let clientCertificatePEM: [UInt8]
    /// The key of ``clientCertificatePEM`` (PEM, PKCS #8).
    public let clientKeyPEM: [UInt8]
    /// A bearer token with full access (user ``tokenUser``).
    public let token: String
    /// A bearer token that authenticates (user ``forbiddenUser``) but is refused (403) on Jobs and pods.
    public let forbiddenToken: String
    /// The one namespace the double serves.
    public let namespace: String
    /// The value of ``containerLabel`` on this double's containers.
    public let instanceID: String

    /// Who ``token`` is.
    public static let tokenUser = "system:serviceaccount:berth:runner"
    /// Who ``forbiddenToken`` is.
    public static let forbiddenUser = "system:serviceaccount:berth:forbidden"
    /// Who the client certificate is.
    public static let certificateUser = "berth"
    /// The Docker label on every container the double makes (value: ``instanceID``).
    public static let containerLabel = "io.berth.kubernetes-double"

    private let cluster: Cluster
    private let docker: DockerClient
    private let listeners: [DoubleListener]
    private let certificates: DoubleCertificates
    private let deaths: Task<Void, Never>
    private let stopped = Mutex(false)

    private init(
        cluster: Cluster, docker: DockerClient, listeners: [DoubleListener], certificates: DoubleCertificates,
        deaths: Task<Void, Never>, token: String, forbiddenToken: String, instanceID: String
    ) {
        self.cluster = cluster
        self.docker = docker
        self.listeners = listeners
        self.certificates = certificates
        self.deaths = deaths
        self.token = token
        self.forbiddenToken = forbiddenToken
        self.instanceID = instanceID
        self.namespace = cluster.namespace
        self.tokenURL = "https://127.0.0.1:\(listeners[0].port)"
        self.certificateURL = "https://127.0.0.1:\(listeners[1].port)"
        self.caPEM = certificates.caPEM
        self.clientCertificatePEM = certificates.clientCertificatePEM
        self.clientKeyPEM = certificates.clientKeyPEM
    }

    /// Starts a double whose pods run on the Docker engine at `dockerSocket`.
    /// - Parameters:
    ///   - dockerSocket: The engine's unix socket (`TestEnvironment.dockerSocket()`).
    ///   - namespace: The one namespace served; other namespaces are 404.
    ///   - nodeLabels: The one node's labels, which pods' nodeSelectors must match. Its name is
    ///     the `kubernetes.io/hostname` label (else `double-node`).
    ///   - bookmarkInterval: How often watches with `allowWatchBookmarks=true` get a bookmark.
    ///   - watchHistory: How many changes are kept for watches that resume from a resourceVersion.
    /// - Throws: When the engine cannot be reached, openssl fails, or a listener cannot start.
    public static func start(
        dockerSocket: String, namespace: String = "berth-test",
        nodeLabels: [String: String] = ["kubernetes.io/hostname": "double-node"], bookmarkInterval: Duration = .seconds(1),
        watchHistory: Int = 1000
    ) async throws(KubernetesDoubleError) -> KubernetesDouble {
        let instanceID = UUID().uuidString.lowercased()
        let docker = try await DockerClient.connect(socket: dockerSocket, label: (containerLabel, instanceID))
        let certificates = try DoubleCertificates.make()
        let cluster = Cluster(
            namespace: namespace, nodeLabels: nodeLabels, bookmarkInterval: bookmarkInterval, historyLimit: watchHistory,
            docker: docker)
        let since = Timestamp.now()
        let deaths = Task { await ContainerDeaths.follow(docker: docker, cluster: cluster, since: since) }
        var started: [DoubleListener] = []
        do throws(KubernetesDoubleError) {
            let tokenTLS: TLSConfiguration
            let certificateTLS: TLSConfiguration
            do {
                let chain = try NIOSSLCertificate.fromPEMBytes(certificates.serverCertificatePEM).map { NIOSSLCertificateSource.certificate($0) }
                let key = try NIOSSLPrivateKey(bytes: certificates.serverKeyPEM, format: .pem)
                let authorities = try NIOSSLCertificate.fromPEMBytes(certificates.caPEM)
                tokenTLS = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
                var mutual = tokenTLS
                mutual.certificateVerification = .noHostnameVerification
                mutual.trustRoots = .certificates(authorities)
                certificateTLS = mutual
            } catch {
                throw KubernetesDoubleError("cannot load the certificates openssl made: \(error)")
            }
            let token = Self.randomToken()
            let forbiddenToken = Self.randomToken()
            let users = [token: tokenUser, forbiddenToken: forbiddenUser]
            var logger = Logger(label: "berth.kubernetes-double")
            // Hummingbird logs the cancellation that stops a listener as an error; only a
            // listener that fails on its own matters, and `start` reports that.
            logger.logLevel = .critical
            for (authentication, tls) in [(APIServer.Authentication.token, tokenTLS), (.certificate, certificateTLS)] {
                let server = APIServer(
                    cluster: cluster, authentication: authentication, users: users, certificateUser: certificateUser,
                    forbiddenUsers: [forbiddenUser])
                started.append(try await DoubleListener.start(server: server, tls: tls, logger: logger))
            }
            return KubernetesDouble(
                cluster: cluster, docker: docker, listeners: started, certificates: certificates, deaths: deaths, token: token,
                forbiddenToken: forbiddenToken, instanceID: instanceID)
        } catch {
            for listener in started { await listener.stop() }
            deaths.cancel()
            certificates.remove()
            throw error
        }
    }

    private static func randomToken() -> String {
        (UUID().uuidString + UUID().uuidString).lowercased().filter { $0 != "-" }
    }

    /// Stops the listeners, ends every watch and pod task, removes every container the double
    /// made and its certificate folder. Calling it again does nothing.
    public func stop() async {
        guard stopped.withLock({ stopped in
            defer { stopped = true }
            return !stopped
        }) else { return }
        let running = await cluster.shutdown()
        for listener in listeners { await listener.stop() }
        await removeContainers()
        // Kubelet tasks caught between a create and its record remove their own container;
        // wait for them (bounded: a stuck engine call must not hang the tests), then sweep again.
        let (finished, signal) = AsyncStream<Void>.makeStream()
        let waiter = Task {
            for task in running { await task.value }
            signal.yield()
        }
        let timer = Task {
            try? await Task.sleep(for: .seconds(10))
            signal.yield()
        }
        for await _ in finished { break }
        timer.cancel()
        waiter.cancel()
        await removeContainers()
        deaths.cancel()
        certificates.remove()
    }

    private func removeContainers() async {
        for id in (try? await docker.containers()) ?? [] { await docker.remove(id) }
    }

    /// A kubeconfig for this double: one cluster, user and context named `contextName`, with
    /// the CA, and either the client certificate and key (the certificate listener) or the
    /// token (the token listener), all as `*-data` fields; `namespace` in the context if given.
    public func kubeconfig(useCertificate: Bool, namespace: String?, contextName: String = "double") -> String {
        let name = JSONValue.string(contextName).jsonText
        var lines = [
            "apiVersion: v1", "kind: Config", "clusters:", "- name: \(name)", "  cluster:",
            "    server: \(useCertificate ? certificateURL : tokenURL)",
            "    certificate-authority-data: \(Base64.encode(caPEM))", "users:", "- name: \(name)", "  user:",
        ]
        if useCertificate {
            lines += [
                "    client-certificate-data: \(Base64.encode(clientCertificatePEM))",
                "    client-key-data: \(Base64.encode(clientKeyPEM))",
            ]
        } else {
            lines.append("    token: \(token)")
        }
        lines += ["contexts:", "- name: \(name)", "  context:", "    cluster: \(name)", "    user: \(name)"]
        if let namespace { lines.append("    namespace: \(JSONValue.string(namespace).jsonText)") }
        lines += ["current-context: \(name)", "preferences: {}"]
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes ``kubeconfig(useCertificate:namespace:contextName:)`` to `path`.
    /// - Throws: When the file cannot be written.
    public func writeKubeconfig(
        to path: String, useCertificate: Bool, namespace: String?, contextName: String = "double"
    ) throws(KubernetesDoubleError) {
        do {
            try kubeconfig(useCertificate: useCertificate, namespace: namespace, contextName: contextName)
                .write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw KubernetesDoubleError("cannot write a kubeconfig to \(path): \(error)")
        }
    }

    /// Forgets the watch history: a watch from any resourceVersion older than the current one
    /// then gets a 410 `Expired` `ERROR` event.
    public func expireWatchHistory() async {
        await cluster.expireHistory()
    }

    /// Ends every open watch cleanly (the server's timeout, or its restart): clients watch
    /// again from the newest resourceVersion they saw.
    public func endWatches() async {
        await cluster.endWatches()
    }

    /// Makes the next `count` requests (on either listener, any path) answer HTTP `status` with
    /// a `Status` object (500 `InternalError`, 503 `ServiceUnavailable`, 429 `TooManyRequests`
    /// with `Retry-After: 1`, 504 `Timeout`, …). `count` 0 ends a failure run early.
    public func failNext(_ count: Int, status: Int) async {
        await cluster.injectFailures(count, status: status)
    }

    /// How many containers the double has on the engine now (running or not).
    public var containerCount: Int {
        get async throws(KubernetesDoubleError) {
            do {
                return try await docker.containers().count
            } catch {
                throw KubernetesDoubleError("cannot list the double's containers: \(error.message)")
            }
        }
    }

    /// The last resourceVersion given out.
    public var resourceVersion: Int {
        get async { await cluster.revision }
    }

    /// The pods as `GET` serves them, by name.
    public func pods() async -> [JSONValue] {
        await cluster.list(.pods, labels: LabelSelector.everything, fields: FieldSelector.everything, typed: true)
    }

    /// The Jobs as `GET` serves them, by name.
    public func jobs() async -> [JSONValue] {
        await cluster.list(.jobs, labels: LabelSelector.everything, fields: FieldSelector.everything, typed: true)
    }

    /// The ConfigMaps as `GET` serves them, by name.
    public func configMaps() async -> [JSONValue] {
        await cluster.list(.configMaps, labels: LabelSelector.everything, fields: FieldSelector.everything, typed: true)
    }

    /// How many watches are open.
    public var openWatches: Int {
        get async { await cluster.watchers.count }
    }

    /// Every request answered so far, in order.
    public func requests() async -> [RecordedRequest] {
        await cluster.requests
    }
}
