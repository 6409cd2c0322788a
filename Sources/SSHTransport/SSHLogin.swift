import BerthPluginKit
import CSSH2
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Connects, shakes hands, checks the server's key and logs in, on the calling thread.
///
/// Runs on the session's own thread before its loop starts, with libssh2 in blocking mode and
/// a timeout; every failure is a ``PluginError`` a user can act on, naming the address and port,
/// the user and key file, or the host key's SHA-256 fingerprint.
struct SSHLogin {
    let endpoint: SSHEndpoint

    /// A logged-in session and its socket.
    struct Connected {
        let session: OpaquePointer
        let socket: Int32
    }

    func run() throws(PluginError) -> Connected {
        SSHLibrary.initialize()
        let socket = try connectSocket()
        guard let session = berth_ssh2_session_init() else {
            close(socket)
            throw PluginError(.internal, "ssh \(endpoint.hostPort): libssh2 could not make a session")
        }
        do throws(PluginError) {
            libssh2_session_set_blocking(session, 1)
            libssh2_session_set_timeout(session, Int(endpoint.connectTimeout * 1000))
            guard libssh2_session_handshake(session, socket) == 0 else {
                throw PluginError(.unavailable, "ssh \(endpoint.hostPort): handshake failed: \(Self.lastError(session))")
            }
            try checkHostKey(session)
            try authenticate(session)
            libssh2_session_set_timeout(session, 0)
            if endpoint.keepaliveInterval > 0 {
                libssh2_keepalive_config(session, 1, UInt32(endpoint.keepaliveInterval))
            }
            return Connected(session: session, socket: socket)
        } catch {
            libssh2_session_disconnect_ex(session, SSH_DISCONNECT_BY_APPLICATION, "berth", "")
            libssh2_session_free(session)
            close(socket)
            throw error
        }
    }

    /// libssh2's last error message for `session`.
    static func lastError(_ session: OpaquePointer) -> String {
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        libssh2_session_last_error(session, &message, &length, 0)
        return message.map { String(cString: $0) } ?? "unknown error"
    }

    private func connectSocket() throws(PluginError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(endpoint.address, String(endpoint.port), &hints, &found) == 0, let first = found else {
            throw PluginError(.unavailable, "ssh \(endpoint.hostPort): cannot resolve \(endpoint.address)")
        }
        defer { freeaddrinfo(found) }
        var lastProblem = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 || errno == EINPROGRESS {
                var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&poller, 1, Int32(endpoint.connectTimeout * 1000))
                var soError: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length)
                if ready == 1, soError == 0 {
                    _ = fcntl(fd, F_SETFL, flags)
                    return fd
                }
                lastProblem = ready == 0 ? "timed out after \(endpoint.connectTimeout) s" : String(cString: strerror(soError))
            } else {
                lastProblem = String(cString: strerror(errno))
            }
            close(fd)
        }
        throw PluginError(.unavailable, "ssh \(endpoint.hostPort): cannot connect: \(lastProblem)")
    }

    private func checkHostKey(_ session: OpaquePointer) throws(PluginError) {
        var keyLength = 0
        var keyType: Int32 = 0
        guard let key = libssh2_session_hostkey(session, &keyLength, &keyType) else {
            throw PluginError(.unavailable, "ssh \(endpoint.hostPort): the server sent no host key")
        }
        let fingerprint = Self.fingerprint(session)
        let strict = endpoint.strictHostKeyChecking
        guard let file = endpoint.knownHostsFile else {
            if !strict { return }
            throw PluginError(
                .permissionDenied,
                "ssh \(endpoint.hostPort): host key \(fingerprint) cannot be checked: no known_hosts file is configured")
        }
        guard let hosts = libssh2_knownhost_init(session) else {
            throw PluginError(.internal, "ssh \(endpoint.hostPort): libssh2 could not read known hosts")
        }
        defer { libssh2_knownhost_free(hosts) }
        guard libssh2_knownhost_readfile(hosts, file, LIBSSH2_KNOWNHOST_FILE_OPENSSH) >= 0 else {
            if !strict { return }
            throw PluginError(.invalidConfig, "ssh \(endpoint.hostPort): cannot read known_hosts file \(file)")
        }
        let typeMask: Int32 = switch keyType {
        case LIBSSH2_HOSTKEY_TYPE_RSA: LIBSSH2_KNOWNHOST_KEY_SSHRSA
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: LIBSSH2_KNOWNHOST_KEY_ECDSA_256
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: LIBSSH2_KNOWNHOST_KEY_ECDSA_384
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: LIBSSH2_KNOWNHOST_KEY_ECDSA_521
        case LIBSSH2_HOSTKEY_TYPE_ED25519: LIBSSH2_KNOWNHOST_KEY_ED25519
        default: LIBSSH2_KNOWNHOST_KEY_UNKNOWN
        }
        let check = libssh2_knownhost_checkp(
            hosts, endpoint.address, Int32(endpoint.port), key, keyLength,
            LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | typeMask, nil)
        switch check {
        case LIBSSH2_KNOWNHOST_CHECK_MATCH:
            return
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
            throw PluginError(
                .permissionDenied,
                "ssh \(endpoint.hostPort): host key CHANGED: the server offers \(fingerprint), which does not match \(file)")
        case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
            if !strict { return }
            throw PluginError(
                .permissionDenied,
                "ssh \(endpoint.hostPort): unknown host key \(fingerprint): add it to \(file) after checking it")
        default:
            throw PluginError(.internal, "ssh \(endpoint.hostPort): host key check failed: \(Self.lastError(session))")
        }
    }

    /// The server key's fingerprint as OpenSSH prints it: `SHA256:` and unpadded base64.
    static func fingerprint(_ session: OpaquePointer) -> String {
        guard let hash = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256) else { return "SHA256:?" }
        let bytes = (0..<32).map { UInt8(bitPattern: hash[$0]) }
        var text = Base64.encode(bytes)
        while text.hasSuffix("=") { text.removeLast() }
        return "SHA256:" + text
    }

    private func authenticate(_ session: OpaquePointer) throws(PluginError) {
        var tried: [String] = []
        if let key = endpoint.identityFile {
            let result = berth_ssh2_userauth_publickey_fromfile(session, endpoint.user, key, endpoint.passphrase)
            if result == 0 { return }
            tried.append("key \(key) (\(Self.lastError(session)))\(Self.rsaHint(key))")
        }
        if endpoint.useAgent {
            switch authenticateWithAgent(session) {
            case nil: return
            case let problem?: tried.append(problem)
            }
        }
        guard !tried.isEmpty else {
            throw PluginError(.invalidConfig, "ssh \(endpoint.hostPort): no identity_file and no agent configured")
        }
        throw PluginError(
            .permissionDenied,
            "ssh \(endpoint.hostPort): user \(endpoint.user) was refused with \(tried.joined(separator: " and "))")
    }

    /// libssh2 1.10 signs with RSA only as `ssh-rsa` (SHA-1), which OpenSSH 8.8 and later refuse
    /// by default: say so when the refused key is an RSA key.
    private static func rsaHint(_ key: String) -> String {
        guard let publicKey = try? String(contentsOfFile: key + ".pub", encoding: .utf8), publicKey.hasPrefix("ssh-rsa") else {
            return ""
        }
        return "; this libssh2 signs RSA keys with SHA-1 (ssh-rsa), which OpenSSH 8.8+ refuses by default: use an ed25519 or ecdsa key"
    }

    /// Tries every key of the agent; nil when one was accepted, else what went wrong.
    private func authenticateWithAgent(_ session: OpaquePointer) -> String? {
        let socket = endpoint.agentSocket ?? ProcessInfo.processInfo.environment["SSH_AUTH_SOCK"]
        guard let socket, !socket.isEmpty else { return "no ssh-agent (SSH_AUTH_SOCK is not set)" }
        guard let agent = libssh2_agent_init(session) else { return "no ssh-agent (libssh2 could not make one)" }
        defer {
            libssh2_agent_disconnect(agent)
            libssh2_agent_free(agent)
        }
        libssh2_agent_set_identity_path(agent, socket)
        guard libssh2_agent_connect(agent) == 0, libssh2_agent_list_identities(agent) == 0 else {
            return "the ssh-agent at \(socket), which could not be reached (\(Self.lastError(session)))"
        }
        var previous: UnsafeMutablePointer<libssh2_agent_publickey>?
        var identity: UnsafeMutablePointer<libssh2_agent_publickey>?
        var offered = 0
        while libssh2_agent_get_identity(agent, &identity, previous) == 0 {
            offered += 1
            if libssh2_agent_userauth(agent, endpoint.user, identity) == 0 { return nil }
            previous = identity
        }
        return "the \(offered) key(s) of the ssh-agent at \(socket)"
    }
}

/// libssh2's one-time global set-up, which is not thread-safe and so runs exactly once.
enum SSHLibrary {
    private static let done: Bool = {
        libssh2_init(0)
        return true
    }()

    static func initialize() {
        _ = done
    }
}
