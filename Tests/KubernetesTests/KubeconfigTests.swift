import BerthPluginKit
import CurlHTTP
import Foundation
import KubernetesAPI
import Testing

/// Reading credentials from kubeconfig files and from a service account, as kubectl does.
@Suite("Kubernetes credentials")
struct KubeconfigTests {
    /// A folder with `files` in it, removed after `body`.
    private func withFolder<T>(_ files: [String: String], _ body: (String) throws -> T) throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("berth-kube-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (name, text) in files { try text.write(toFile: "\(folder)/\(name)", atomically: true, encoding: .utf8) }
        return try body(folder)
    }

    private static let kubeconfig = """
        apiVersion: v1
        kind: Config
        current-context: dev
        clusters:
          - name: dev-cluster
            cluster:
              server: https://127.0.0.1:6443/
              certificate-authority-data: \(Base64.encode(Array("CA-PEM".utf8)))
          - name: files-cluster
            cluster:
              server: https://10.0.0.1:6443
              certificate-authority: ca.pem
          - name: lax-cluster
            cluster:
              server: https://10.0.0.2:6443
              insecure-skip-tls-verify: true
        users:
          - name: dev-user
            user:
              client-certificate-data: \(Base64.encode(Array("CERT-PEM".utf8)))
              client-key-data: \(Base64.encode(Array("KEY-PEM".utf8)))
          - name: files-user
            user:
              tokenFile: token.txt
          - name: exec-user
            user:
              exec: {command: aws, apiVersion: client.authentication.k8s.io/v1beta1}
          - name: half-user
            user:
              client-certificate-data: \(Base64.encode(Array("CERT-PEM".utf8)))
        contexts:
          - name: dev
            context: {cluster: dev-cluster, user: dev-user, namespace: solvers}
          - name: files
            context: {cluster: files-cluster, user: files-user}
          - name: lax
            context: {cluster: lax-cluster, user: files-user}
          - name: exec
            context: {cluster: dev-cluster, user: exec-user}
          - name: half
            context: {cluster: dev-cluster, user: half-user}
          - name: nowhere
            context: {cluster: missing-cluster, user: dev-user}
        """

    @Test("the current context gives the server, CA, client certificate and key, and namespace")
    func currentContext() throws {
        try withFolder(["config": Self.kubeconfig]) { folder in
            let credentials = try Kubeconfig.load(path: "\(folder)/config", context: nil)
            #expect(credentials.server == "https://127.0.0.1:6443")
            #expect(credentials.tls.certificateAuthorityPEM == Array("CA-PEM".utf8))
            #expect(credentials.tls.clientCertificatePEM == Array("CERT-PEM".utf8))
            #expect(credentials.tls.clientKeyPEM == Array("KEY-PEM".utf8))
            #expect(credentials.tls.insecureSkipVerify == false)
            #expect(credentials.token == nil)
            #expect(credentials.namespace == "solvers")
            #expect(credentials.source.contains("context dev"))
        }
    }

    @Test("a named context reads files relative to the kubeconfig's folder, and a token file")
    func filesAndTokenFile() throws {
        try withFolder(["config": Self.kubeconfig, "ca.pem": "FILE-CA", "token.txt": "  secret-token\n"]) { folder in
            let credentials = try Kubeconfig.load(path: "\(folder)/config", context: "files")
            #expect(credentials.server == "https://10.0.0.1:6443")
            #expect(credentials.tls.certificateAuthorityPEM == Array("FILE-CA".utf8))
            #expect(try credentials.token?.value() == "secret-token")
            #expect(credentials.namespace == nil)
            let lax = try Kubeconfig.load(path: "\(folder)/config", context: "lax")
            #expect(lax.tls.insecureSkipVerify)
        }
    }

    @Test("errors name the file and the key path")
    func errors() throws {
        try withFolder(["config": Self.kubeconfig]) { folder in
            let path = "\(folder)/config"
            let cases: [(String, [String])] = [
                ("nope", ["contexts", "no entry named 'nope'"]),
                ("exec", ["users[name=exec-user].user.exec", "credential plugins"]),
                ("half", ["users[name=half-user].user", "needs its key"]),
                ("nowhere", ["clusters", "missing-cluster"]),
                ("files", ["clusters[name=files-cluster].cluster.certificate-authority", "cannot read"]),
            ]
            for (context, fragments) in cases {
                let error = #expect(throws: PluginError.self) { _ = try Kubeconfig.load(path: path, context: context) }
                #expect(error?.code == .invalidConfig)
                for fragment in fragments + [path] {
                    #expect(error?.message.contains(fragment) == true, "context \(context): \(error?.message ?? "")")
                }
            }
        }
        let missing = #expect(throws: PluginError.self) { _ = try Kubeconfig.load(path: "/nonexistent/kubeconfig", context: nil) }
        #expect(missing?.message.contains("/nonexistent/kubeconfig") == true)
    }

    @Test("in-cluster credentials come from the service account's files and the environment")
    func inCluster() throws {
        try withFolder(["ca.crt": "SA-CA", "token": "sa-token\n", "namespace": "jobs\n"]) { folder in
            let credentials = try InClusterConfig.load(
                folder: folder, environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"])
            #expect(credentials.server == "https://10.96.0.1:443")
            #expect(credentials.tls.certificateAuthorityPEM == Array("SA-CA".utf8))
            #expect(try credentials.token?.value() == "sa-token")
            #expect(credentials.namespace == "jobs")
            let outside = #expect(throws: PluginError.self) { _ = try InClusterConfig.load(folder: folder, environment: [:]) }
            #expect(outside?.message.contains("KUBERNETES_SERVICE_HOST") == true)
        }
    }
}
