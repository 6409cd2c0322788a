public import BerthPluginKit
import BerthYAML
import CurlHTTP
import Foundation

/// Reads credentials from a kubeconfig file, as `kubectl` does for one context.
///
/// Supported: the named or current context; the cluster's `server`,
/// `certificate-authority-data` or `certificate-authority` (a file, relative to the
/// kubeconfig's folder), `insecure-skip-tls-verify` (honoured only when the kubeconfig says
/// so); the user's `client-certificate(-data)`, `client-key(-data)`, `token` or `tokenFile`;
/// the context's `namespace`. Credential plugins (`exec`, `auth-provider`) are not run: they
/// are refused with a message saying so. Every error names the file and the key path.
public enum Kubeconfig {
    /// The credentials of `context` (nil: `current-context`) in the kubeconfig at `path`.
    /// - Throws: `invalid_config` naming the file and what is missing or wrong.
    public static func load(path: String, context: String?) throws(PluginError) -> KubernetesCredentials {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw PluginError(.invalidConfig, "kubeconfig \(path): cannot be read")
        }
        let document: JSONValue
        do {
            document = try JSONValue(yaml: text, file: path)
        } catch {
            throw PluginError(.invalidConfig, "kubeconfig \(error)")
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try Reader(path: path, folder: folder, document: document).credentials(context: context)
    }

    /// One kubeconfig document being read.
    private struct Reader {
        let path: String
        let folder: String
        let document: JSONValue

        func fail(_ location: String, _ reason: String) -> PluginError {
            PluginError(.invalidConfig, "kubeconfig \(path): \(location): \(reason)")
        }

        /// The `name`d entry of the list `key` (`contexts`, `clusters`, `users`) and its body.
        func entry(_ key: String, named name: String, body: String) throws(PluginError) -> (location: String, value: JSONValue) {
            guard let list = document[key]?.arrayValue else { throw fail(key, "missing") }
            guard let found = list.first(where: { $0["name"]?.stringValue == name }) else {
                throw fail(key, "no entry named '\(name)'")
            }
            guard let value = found[body], value.objectValue != nil else { throw fail("\(key)[name=\(name)].\(body)", "missing") }
            return ("\(key)[name=\(name)].\(body)", value)
        }

        func string(_ value: JSONValue, _ key: String, at location: String) throws(PluginError) -> String? {
            guard let member = value[key], member != .null else { return nil }
            guard let text = member.stringValue, !text.isEmpty else { throw fail("\(location).\(key)", "expected a non-empty string") }
            return text
        }

        /// PEM bytes from `<key>-data` (base64) or the file `<key>`.
        func pem(_ value: JSONValue, _ key: String, at location: String) throws(PluginError) -> [UInt8]? {
            if let data = try string(value, "\(key)-data", at: location) {
                guard let bytes = Base64.decode(data.filter { !$0.isWhitespace }) else {
                    throw fail("\(location).\(key)-data", "not valid base64")
                }
                return bytes
            }
            guard let file = try string(value, key, at: location) else { return nil }
            let resolved = file.hasPrefix("/") ? file : "\(folder)/\(file)"
            guard let bytes = FileManager.default.contents(atPath: resolved) else {
                throw fail("\(location).\(key)", "cannot read \(resolved)")
            }
            return Array(bytes)
        }

        func credentials(context requested: String?) throws(PluginError) -> KubernetesCredentials {
            let name: String
            if let requested {
                name = requested
            } else {
                guard let current = try string(document, "current-context", at: "document") else {
                    throw fail("current-context", "not set, and the host settings name no context")
                }
                name = current
            }
            let context = try entry("contexts", named: name, body: "context")
            guard let clusterName = try string(context.value, "cluster", at: context.location) else {
                throw fail("\(context.location).cluster", "missing")
            }
            let cluster = try entry("clusters", named: clusterName, body: "cluster")
            guard let server = try string(cluster.value, "server", at: cluster.location) else {
                throw fail("\(cluster.location).server", "missing")
            }
            guard server.hasPrefix("https://") || server.hasPrefix("http://") else {
                throw fail("\(cluster.location).server", "expected an https:// URL, found '\(server)'")
            }
            var tls = CurlTLS(certificateAuthorityPEM: try pem(cluster.value, "certificate-authority", at: cluster.location))
            tls.insecureSkipVerify = cluster.value["insecure-skip-tls-verify"]?.boolValue ?? false

            var token: BearerToken?
            if let userName = try string(context.value, "user", at: context.location) {
                let user = try entry("users", named: userName, body: "user")
                for unsupported in ["exec", "auth-provider"] where user.value[unsupported] != nil {
                    throw fail("\(user.location).\(unsupported)", "credential plugins are not run by Berth; use a client certificate, a token or a tokenFile")
                }
                tls.clientCertificatePEM = try pem(user.value, "client-certificate", at: user.location)
                tls.clientKeyPEM = try pem(user.value, "client-key", at: user.location)
                guard (tls.clientCertificatePEM == nil) == (tls.clientKeyPEM == nil) else {
                    throw fail(user.location, "a client certificate needs its key, and a key its certificate")
                }
                if let fixed = try string(user.value, "token", at: user.location) {
                    token = BearerToken(fixed)
                } else if let file = try string(user.value, "tokenFile", at: user.location) {
                    do {
                        token = try BearerToken(file: file.hasPrefix("/") ? file : "\(folder)/\(file)")
                    } catch {
                        throw fail("\(user.location).tokenFile", error.message)
                    }
                }
            }
            return KubernetesCredentials(
                server: server, tls: tls, token: token, namespace: try string(context.value, "namespace", at: context.location),
                source: "kubeconfig \(path), context \(name)")
        }
    }
}
