/// TLS for an HTTPS endpoint: whom to trust and who we are, all in memory (PEM), so that
/// credentials from a kubeconfig's `*-data` fields never touch the disk.
public struct CurlTLS: Sendable, Hashable {
    /// PEM certificates of the authorities to trust instead of the system's; nil: the system's.
    public var certificateAuthorityPEM: [UInt8]?
    /// PEM client certificate, for mutual TLS.
    public var clientCertificatePEM: [UInt8]?
    /// PEM private key of the client certificate. Never logged.
    public var clientKeyPEM: [UInt8]?
    /// Skip verifying the server's certificate and name. Only when a user asked for it.
    public var insecureSkipVerify: Bool

    /// TLS settings.
    public init(
        certificateAuthorityPEM: [UInt8]? = nil, clientCertificatePEM: [UInt8]? = nil, clientKeyPEM: [UInt8]? = nil,
        insecureSkipVerify: Bool = false
    ) {
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
        self.insecureSkipVerify = insecureSkipVerify
    }
}
