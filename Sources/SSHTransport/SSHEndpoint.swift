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
    /// Try the keys of the ssh-agent at `SSH_AUTH_SOCK` too.
    public var useAgent: Bool
    /// The known_hosts file the server's key must be in; nil with strict checking fails.
    public var knownHostsFile: String?
    /// Refuse servers whose key is not in `knownHostsFile` (the default).
    public var strictHostKeyChecking: Bool
    /// Seconds allowed for connecting, the handshake and the login.
    public var connectTimeout: Double
    /// Seconds between keepalive messages; 0 for none.
    public var keepaliveInterval: Int

    /// An endpoint.
    public init(
        address: String, port: Int = 22, user: String, identityFile: String? = nil, passphrase: String? = nil,
        useAgent: Bool = false, knownHostsFile: String? = nil, strictHostKeyChecking: Bool = true,
        connectTimeout: Double = 10, keepaliveInterval: Int = 15
    ) {
        self.address = address
        self.port = port
        self.user = user
        self.identityFile = identityFile
        self.passphrase = passphrase
        self.useAgent = useAgent
        self.knownHostsFile = knownHostsFile
        self.strictHostKeyChecking = strictHostKeyChecking
        self.connectTimeout = connectTimeout
        self.keepaliveInterval = keepaliveInterval
    }

    /// `address:port`, for messages.
    public var hostPort: String { "\(address):\(port)" }
}
