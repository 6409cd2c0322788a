public import BerthPluginKit
import CurlHTTP
import Foundation

/// Credentials of the pod Berth runs in, from its service account, as client-go's
/// `rest.InClusterConfig` reads them.
public enum InClusterConfig {
    /// Where the service account's files are mounted.
    public static let defaultFolder = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The API server from `KUBERNETES_SERVICE_HOST`/`_PORT` of `environment` (nil: the
    /// process's), the token, CA and namespace files in `folder`.
    /// - Throws: `invalid_config` naming the missing variable or file.
    public static func load(
        folder: String = defaultFolder, environment: [String: String]? = nil
    ) throws(PluginError) -> KubernetesCredentials {
        let environment = environment ?? ProcessInfo.processInfo.environment
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
              let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw PluginError(.invalidConfig, "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (not running in a pod?)")
        }
        guard let authority = FileManager.default.contents(atPath: "\(folder)/ca.crt") else {
            throw PluginError(.invalidConfig, "in-cluster: cannot read \(folder)/ca.crt")
        }
        let token = try BearerToken(file: "\(folder)/token")
        let namespace = (try? String(contentsOfFile: "\(folder)/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return KubernetesCredentials(
            server: "https://\(hostPart):\(port)", tls: CurlTLS(certificateAuthorityPEM: Array(authority)), token: token,
            namespace: namespace?.isEmpty == false ? namespace : nil, source: "in-cluster service account (\(folder))")
    }
}
