public import BerthPluginKit
public import CurlHTTP
import Foundation
import Synchronization

/// Where a cluster's API server is and how to prove who we are to it: from a kubeconfig
/// context (``Kubeconfig``) or from the pod's service account (``InClusterConfig``).
public struct KubernetesCredentials: Sendable {
    /// The API server's base URL (`https://10.0.0.1:6443`), without a trailing slash.
    public var server: String
    /// Trust, client certificate and key, and whether to skip verification.
    public var tls: CurlTLS
    /// The bearer token, if any.
    public var token: BearerToken?
    /// The namespace the context or the service account names, if any.
    public var namespace: String?
    /// Where these came from, for messages (`kubeconfig /etc/berth/kubeconfig, context dev`).
    public var source: String

    /// Credentials.
    public init(server: String, tls: CurlTLS = CurlTLS(), token: BearerToken? = nil, namespace: String? = nil, source: String) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.tls = tls
        self.token = token
        self.namespace = namespace
        self.source = source
    }
}

/// A bearer token: fixed, or read from a file that is re-read now and then (projected
/// service-account tokens are rotated by the kubelet while the pod runs).
public final class BearerToken: Sendable {
    private enum Source {
        case fixed(String)
        case file(String)
    }

    private struct Cached {
        var value: String
        var readAt: ContinuousClock.Instant
    }

    /// How long a token read from a file is used before the file is read again.
    public static let rereadInterval: Duration = .seconds(60)

    private let source: Source
    private let cached = Mutex<Cached?>(nil)

    /// A fixed token.
    public init(_ value: String) {
        source = .fixed(value)
    }

    /// A token read from `path` (whitespace around it ignored), now and every minute.
    /// - Throws: `invalid_config` naming the file when it cannot be read or is empty.
    public init(file path: String) throws(PluginError) {
        source = .file(path)
        _ = try value()
    }

    /// The token to send now.
    public func value() throws(PluginError) -> String {
        switch source {
        case .fixed(let value):
            return value
        case .file(let path):
            if let cached = cached.withLock({ $0 }), ContinuousClock.now - cached.readAt < Self.rereadInterval {
                return cached.value
            }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw PluginError(.invalidConfig, "cannot read the token file \(path)")
            }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { throw PluginError(.invalidConfig, "the token file \(path) is empty") }
            cached.withLock { $0 = Cached(value: token, readAt: .now) }
            return token
        }
    }
}
