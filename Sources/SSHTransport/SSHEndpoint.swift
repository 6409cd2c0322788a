/// Where and how to log in: the remote host, the user and the credentials.
public struct SSHEndpoint: Sendable, Hashable {
    /// Address (name or IP) of the SSH server.
    public var address: String
    /// Its port.
    public var port: Int
    /// The user to log in as.
    public var user: String
    /// A private key file (ed25519, ecdsa or rsa), if any.
    public var identityFile: String?
    /// The key's passphrase, if it has one. Never logged, never in a message.
    public var passphrase: String?
    /// Try the keys of an ssh-agent too.
    public var useAgent: Bool
    /// The agent's socket; nil for `SSH_AUTH_SOCK`.
    public var agentSocket: String?
    /// The known_hosts file the server's key must be in; nil with strict checking fails.
    public var knownHostsFile: String?
    /// Refuse servers whose key is not in `knownHostsFile` (the default). Without it an
    /// unknown key is accepted, but a key that differs from `knownHostsFile` is still refused.
    public var strictHostKeyChecking: Bool
    /// Seconds allowed for connecting, the handshake and the login.
    public var connectTimeout: Double
    /// Seconds between keepalive messages; 0 for none.
    public var keepaliveInterval: Int

    /// An endpoint.
    public init(
        address: String, port: Int = 22, user: String, identityFile: String? = nil, passphrase: String? = nil,
        useAgent: Bool = false, agentSocket: String? = nil, knownHostsFile: String? = nil, strictHostKeyChecking: Bool = true,
        connectTimeout: Double = 10, keepaliveInterval: Int = 15
    ) {
        self.address = address
        self.port = port
        self.user = user
        self.identityFile = identityFile
        self.passphrase = passphrase
        self.useAgent = useAgent
        self.agentSocket = agentSocket
        self.knownHostsFile = knownHostsFile
        self.strictHostKeyChecking = strictHostKeyChecking
        self.connectTimeout = connectTimeout
        self.keepaliveInterval = keepaliveInterval
    }

    /// `address:port`, for messages.
    public var hostPort: String { "\(address):\(port)" }
}
