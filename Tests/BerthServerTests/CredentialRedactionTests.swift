import BerthCore
import BerthPluginKit
@testable import BerthServer
import BerthTestSupport
import Foundation
import Logging
import Synchronization
import Testing

/// Settings that hold credentials (a registry password, an SSH key passphrase, a kubeconfig
/// token) never show in `GET /v1/hosts`, `GET /v1/plugins`, or the log, whether the host opens,
/// answers unhealthy or fails to open.
@Suite("Credentials stay out of the API and the log")
struct CredentialRedactionTests {
    /// Keeps every log line with its metadata.
    final class Capture: Sendable {
        let lines = Mutex<[String]>([])

        var logger: Logger {
            Logger(label: "capture") { _ in Handler(capture: self) }
        }

        struct Handler: LogHandler {
            let capture: Capture
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace

            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }

            func log(event: LogEvent) {
                let all = metadata.merging(event.metadata ?? [:]) { $1 }
                capture.lines.withLock { $0.append("\(event.message) \(all) \(event.source)") }
            }
        }
    }

    @Test("GET /v1/hosts, GET /v1/plugins and the log never hold a configured secret")
    func secretsNeverShow() async throws {
        let folder = try FileManager.default.url(
            for: .itemReplacementDirectory, in: .userDomainMask, appropriateFor: URL(fileURLWithPath: "/tmp"), create: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let kubeconfig = folder.appendingPathComponent("kubeconfig")
        try """
            apiVersion: v1
            kind: Config
            current-context: c
            clusters: [{name: k, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
            users: [{name: u, user: {token: kube-token-s3cret-0001}}]
            contexts: [{name: c, context: {cluster: k, user: u, namespace: default}}]
            """.write(to: kubeconfig, atomically: true, encoding: .utf8)
        let secrets = ["registry-pw-s3cret-0001", "ssh-passphrase-s3cret-0001", "kube-token-s3cret-0001"]
        let hosts = [
            TargetHostConfiguration(name: "docker", plugin: "docker", settings: [
                "socket_path": .string(try TestEnvironment.dockerSocket()),
                "registry_auth": ["127.0.0.1:5999": ["username": "u", "password": .string(secrets[0])]],
            ]),
            // Opens, but cannot log in: a key file that does not exist, on a port nothing serves.
            TargetHostConfiguration(name: "ssh", plugin: "docker-ssh", settings: [
                "address": "127.0.0.1", "port": 1, "user": "u", "identity_file": .string(folder.appendingPathComponent("none").path),
                "passphrase": .string(secrets[1]),
            ]),
            // Fails to open: an unknown key next to the secret.
            TargetHostConfiguration(name: "ssh-bad", plugin: "docker-ssh", settings: [
                "address": "127.0.0.1", "user": "u", "passphrase": .string(secrets[1]), "colour": "red",
            ]),
            TargetHostConfiguration(name: "k8s", plugin: "kubernetes", settings: ["kubeconfig": .string(kubeconfig.path)]),
        ]
        let capture = Capture()
        let plugins = PluginHost(configuration: PluginHostConfiguration(hosts: hosts, serverID: "redaction"), logger: capture.logger)
        await plugins.start()
        // Each host is waited for (the API's 2 s bound can pass on a loaded machine, and then the
        // host's own message would not be checked).
        let listed = JSONValue.array(await SystemStatus.hosts(plugins, timeout: .seconds(60))).jsonText + JSONValue.array(await SystemStatus.plugins(plugins)).jsonText
        let records = await plugins.hosts
        await plugins.shutdown()

        // The hosts were really exercised: one healthy, two unhealthy, one refused.
        #expect(listed.contains("Docker engine"))
        #expect(listed.contains("ssh 127.0.0.1:1: cannot connect"))
        #expect(listed.contains("host k8s: cannot reach https://127.0.0.1:1"))
        #expect(records.first { $0.configuration.name == "ssh-bad" }.map { if case .failure = $0.result { true } else { false } } == true)
        #expect(listed.contains("colour"), "the refused host's error names the bad key: \(listed)")
        let logged = capture.lines.withLock { $0 }.joined(separator: "\n")
        #expect(!logged.isEmpty)
        for secret in secrets {
            #expect(!listed.contains(secret), "\(secret) in the API: \(listed)")
            #expect(!logged.contains(secret), "\(secret) in the log")
        }
    }
}
