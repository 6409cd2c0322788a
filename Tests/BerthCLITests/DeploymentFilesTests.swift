import BerthConfiguration
import BerthPluginKit
import BerthTestSupport
import BerthYAML
import Foundation
import Testing

/// The files of `deploy/` hold together: each configuration in them is valid for `berth config
/// check` (its hosts' settings against the plugins' schemas), the systemd unit passes
/// `systemd-analyze verify`, and the Kubernetes objects agree with each other, with the
/// configuration they mount and with the image's Dockerfile.
@Suite("deploy/")
struct DeploymentFilesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func text(_ path: String) throws -> String { try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8) }
    /// What `BERTH_DATABASE_URL` gives the deployed servers.
    static let environment = ["BERTH_DATABASE_URL": "postgresql://berth@db.internal/berth"]

    /// `berth config check` on `yaml`, with the plugins of this build.
    func configCheck(_ yaml: String) async throws -> ProcessOutput {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("deploy-\(UUID().uuidString).yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        return try await Subprocess.berth(
            ["config", "check", file.path], environment: Self.environment.merging(["BERTH_PLUGIN_DIRS": TestEnvironment.pluginFolder]) { $1 })
    }

    @Test("systemd: the unit verifies, its configuration checks, and the two agree")
    func systemd() async throws {
        let unit = try Self.text("deploy/systemd/berth.service")
        let yaml = try Self.text("deploy/systemd/berth.yaml")
        let check = try await configCheck(yaml)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let config = try BerthConfig.parse(yaml: yaml, environment: Self.environment)
        #expect(config.listen.host == "127.0.0.1", "loopback unless told otherwise")
        #expect(config.databaseURL == Self.environment["BERTH_DATABASE_URL"])
        #expect(unit.contains("ExecStart=/opt/berth/berth serve --config /etc/berth/berth.yaml"))
        #expect(config.pluginDirectories == ["/opt/berth"], "the plugins sit beside the binary the unit starts")
        #expect(unit.contains("StateDirectory=berth") && config.dataDirectory == "/var/lib/berth")

        // systemd-analyze checks every directive; the binary must exist, so point it at this build's.
        let folder = try temporaryFolder("berth-unit")
        defer { try? FileManager.default.removeItem(at: folder) }
        let copy = folder.appendingPathComponent("berth.service")
        try unit.replacingOccurrences(of: "/opt/berth/berth", with: Subprocess.berth).write(to: copy, atomically: true, encoding: .utf8)
        let verify = try await Subprocess("/usr/bin/systemd-analyze", ["verify", copy.path]).wait(timeout: 60)
        #expect(verify.status == 0 && verify.stderr.isEmpty && verify.stdout.isEmpty, "\(verify.stdout)\(verify.stderr)")
    }

    @Test("Kubernetes: the objects agree with each other, the mounted configuration checks, the image fits")
    func kubernetes() async throws {
        let documents = try Self.text("deploy/kubernetes/berth.yaml").components(separatedBy: "\n---\n").map { try JSONValue(yaml: $0) }
        func object(_ kind: String, _ name: String) throws -> JSONValue {
            try #require(documents.first { $0["kind"]?.stringValue == kind && $0["metadata"]?["name"]?.stringValue == name }, "\(kind) \(name)")
        }
        let yaml = try #require(try object("ConfigMap", "berth-config")["data"]?["berth.yaml"]?.stringValue)
        let check = try await configCheck(yaml)
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let config = try BerthConfig.parse(yaml: yaml, environment: Self.environment)
        let host = try #require(config.hosts.first { $0.plugin == "kubernetes" })
        #expect(host.settings["in_cluster"] == true)
        let jobsNamespace = try #require(host.settings["namespace"]?.stringValue)

        let deployment = try object("Deployment", "berth")
        let pod = try #require(deployment["spec"]?["template"]?["spec"])
        let container = try #require(pod["containers"]?.arrayValue?.first)
        #expect(container["args"] == ["serve", "--config", "/etc/berth/berth.yaml"])
        #expect(container["ports"]?.arrayValue?.first?["containerPort"]?.int64Value == Int64(config.listen.port))
        #expect(container["readinessProbe"]?["httpGet"]?["path"] == "/readyz")
        #expect(container["livenessProbe"]?["httpGet"]?["path"] == "/healthz")
        #expect(container["env"]?.arrayValue?.contains { $0["name"] == "BERTH_DATABASE_URL" } == true, "the external PostgreSQL")
        let mounts = try #require(container["volumeMounts"]?.arrayValue)
        func mountPath(_ volume: String) -> String? { mounts.first { $0["name"]?.stringValue == volume }?["mountPath"]?.stringValue }
        #expect(mountPath("config") == "/etc/berth/berth.yaml")
        #expect(mountPath("data") == config.dataDirectory)
        let keys = try #require(mountPath("keys"))
        #expect(config.secretsKeyFile == keys + "/secrets.key" && config.webhookSecretFile == keys + "/webhook.secret")

        // The service account the pods run as is the one the Role is bound to, in the jobs' namespace.
        let binding = try object("RoleBinding", "berth")
        #expect(binding["metadata"]?["namespace"]?.stringValue == jobsNamespace)
        #expect(try object("Role", "berth")["metadata"]?["namespace"]?.stringValue == jobsNamespace)
        let subject = try #require(binding["subjects"]?.arrayValue?.first)
        #expect(subject["name"] == pod["serviceAccountName"])
        #expect(subject["namespace"] == deployment["metadata"]?["namespace"])
        #expect(try object("NetworkPolicy", "berth-no-network")["metadata"]?["namespace"]?.stringValue == jobsNamespace)

        // The image runs as the user the pod asks for, and starts the same command.
        let dockerfile = try Self.text("deploy/docker/Dockerfile")
        let user = try #require(pod["securityContext"]?["runAsUser"]?.int64Value)
        #expect(dockerfile.contains("USER \(user):\(user)"))
        #expect(dockerfile.contains(#"CMD ["serve", "--config", "/etc/berth/berth.yaml"]"#))
    }

    @Test("Dockerfile: two stages, and the build stage builds every plugin this package ships")
    func dockerfile() throws {
        let dockerfile = try Self.text("deploy/docker/Dockerfile")
        let stages = dockerfile.split(separator: "\n").filter { $0.hasPrefix("FROM ") }
        #expect(stages.count == 2 && stages[0].hasSuffix(" AS build"))
        let manifest = try Self.text("Package.swift")
        let plugins = manifest.matches(of: /\.library\(name: "(\w+)", type: \.dynamic/).map { String($0.output.1) }
        #expect(plugins.count == 4)
        let loop = try #require(dockerfile.firstMatch(of: /for plugin in ([\w ]+); do/)?.output.1)
        #expect(Set(loop.split(separator: " ").map(String.init)) == Set(plugins))
    }
}
