import BerthConfiguration
import BerthCore
import BerthPluginKit
import BerthYAML
import Foundation
import Testing

@Suite("BerthConfig")
struct ConfigurationTests {
    static let full = """
        listen:
          host: 0.0.0.0
          port: 9090
        database:
          url: postgresql://berth@db/berth
        data_dir: /srv/berth
        plugin_dirs: [/opt/berth/plugins, /usr/lib/berth]
        server_id: berth-a
        default_host: local
        log_level: debug
        log: {format: json}
        dashboard: {enabled: false}
        leader_failover_seconds: 4
        outputs: {max_log_bytes: 4096, max_artifact_bytes: 2048}
        inputs: {config_path: /work/config.json}
        retention: {finished_seconds: 3600}
        webhooks: {allowed_urls: ["https://ci.example/*"], secret_file: /etc/berth/webhook.secret}
        job_service:
          enabled: true
          image: solver:4
          command: [/app/solve]
          args: [--fast]
          env: {MODE: batch}
          config_folder: /srv/configs
          timeout_seconds: 60
          max_log_response_bytes: 2048
        limits:
          max_body_bytes: 65536
          max_header_bytes: 8192
          idle_timeout_seconds: 12.5
          read_timeout_seconds: 45
          max_log_follows_per_token: 3
        hosts:
          - name: local
            plugin: docker
            max_concurrent: 4
            labels: {gpu: "false", zone: a}
            policy: {images: ["berth/*"], max_cpus: 2.5, max_memory_mb: 1024, max_timeout_seconds: 3600}
            settings:
              socket_path: /var/run/docker.sock
              registry_auth:
                127.0.0.1:5000: {username: berth, password: secret}
          - name: sim
            plugin: simulated
            settings: {max_concurrent: 50}
        """

    @Test func readsEveryKey() throws {
        let config = try BerthConfig.parse(yaml: Self.full, file: "berth.yaml")
        #expect(config.logFormat == .json)
        #expect(try BerthConfig.parse(yaml: "data_dir: /x", file: "b.yaml").logFormat == .text)
        #expect(config.listen == BerthConfig.Listen(host: "0.0.0.0", port: 9090))
        #expect(config.databaseURL == "postgresql://berth@db/berth")
        #expect(config.dataDirectory == "/srv/berth")
        #expect(config.pluginDirectories == ["/opt/berth/plugins", "/usr/lib/berth"])
        #expect(config.serverID == "berth-a")
        #expect(config.serverIDIsConfigured)
        #expect(config.leaderFailoverSeconds == 4)
        #expect(config.schedulerConfiguration().leaderRetryInterval == .milliseconds(800))
        #expect(config.policiesByHost == [
            "local": HostPolicy(images: ["berth/*"], maxCPUs: 2.5, maxMemoryMB: 1024, maxTimeoutSeconds: 3600),
        ])
        #expect(config.defaultHost == "local")
        #expect(config.logLevel == "debug")
        #expect(config.maxBodyBytes == 65536)
        #expect(config.maxLogBytesPerExecution == 4096)
        #expect(config.maxArtifactBytes == 2048)
        #expect(config.configPath == "/work/config.json")
        #expect(config.retentionSeconds == 3600)
        #expect(config.webhookURLs == ["https://ci.example/*"])
        #expect(config.effectiveWebhookSecretFile == "/etc/berth/webhook.secret")
        #expect(!config.dashboardEnabled)
        var jobService = JobServiceSettings(image: "solver:4")
        jobService.command = ["/app/solve"]
        jobService.args = ["--fast"]
        jobService.env = ["MODE": "batch"]
        jobService.configFolder = "/srv/configs"
        jobService.timeoutSeconds = 60
        jobService.maxLogResponseBytes = 2048
        #expect(config.jobService == jobService)
        var limits = BerthConfig.Limits()
        limits.maxHeaderBytes = 8192
        limits.idleTimeoutSeconds = 12.5
        limits.readTimeoutSeconds = 45
        limits.maxLogFollowsPerToken = 3
        #expect(config.limits == limits)
        #expect(config.hosts.map(\.name) == ["local", "sim"])
        #expect(config.hosts[0].maxConcurrent == 4)
        #expect(config.hosts[0].labels == ["gpu": "false", "zone": "a"])
        #expect(config.hosts[0].settings["registry_auth"]?["127.0.0.1:5000"]?["password"] == "secret")
        #expect(config.hosts[1].settings == ["max_concurrent": 50])
        #expect(config.maxConcurrentByHost == ["local": 4])
        #expect(config.listenURL == "http://127.0.0.1:9090")

        let plugins = config.pluginHostConfiguration()
        #expect(plugins.serverID == "berth-a")
        #expect(plugins.pluginFolders == ["/opt/berth/plugins", "/usr/lib/berth"])
        #expect(plugins.hosts == [
            TargetHostConfiguration(name: "local", plugin: "docker", settings: config.hosts[0].settings),
            TargetHostConfiguration(name: "sim", plugin: "simulated", settings: ["max_concurrent": 50]),
        ])
    }

    @Test func tlsMakesTheURLHTTPS() throws {
        let config = try BerthConfig.parse(yaml: "listen: {port: 8443, tls: {certificate_file: /etc/berth/cert.pem, key_file: /etc/berth/key.pem}}")
        #expect(config.listen.tlsCertificateFile == "/etc/berth/cert.pem")
        #expect(config.listen.tlsKeyFile == "/etc/berth/key.pem")
        #expect(config.listenURL == "https://127.0.0.1:8443")
    }

    @Test func minimalFileTakesDefaults() throws {
        let config = try BerthConfig.parse(yaml: "hosts: []\n", environment: ["HOME": "/home/ann"])
        #expect(config.listen == BerthConfig.Listen(host: "127.0.0.1", port: 8080))
        #expect(config.databaseURL == nil)
        #expect(config.pluginDirectories.isEmpty)
        #expect(config.defaultHost == nil)
        #expect(config.logLevel == "info")
        #expect(config.maxBodyBytes == BerthConfig.defaultMaxBodyBytes)
        #expect(!config.serverID.isEmpty)
        #expect(config.hosts.isEmpty)
        #expect(config.effectivePluginDirectories == [PluginHost.executableFolder])
    }

    @Test func emptyDocumentIsAllDefaults() throws {
        let config = try BerthConfig.parse(yaml: "# nothing\n")
        #expect(config.hosts.isEmpty)
        #expect(config.listen.port == 8080)
        #expect(config.dashboardEnabled)
    }

    @Test func nullDatabaseURLMeansEmbedded() throws {
        let config = try BerthConfig.parse(yaml: "database: {url: null}\n")
        #expect(config.databaseURL == nil)
    }

    @Test func noFileGivesTheLocalDockerHost() throws {
        let config = try BerthConfig.load(file: nil, environment: ["HOME": "/home/ann"])
        #expect(config.file == nil)
        #expect(config.defaultHost == "local")
        #expect(config.hosts == [BerthConfig.Host(name: "local", plugin: "docker", settings: ["socket_path": "/var/run/docker.sock"])])
    }

    @Test func defaultDataDirectory() {
        #expect(BerthConfig.defaultDataDirectory(environment: ["HOME": "/home/ann"], isRoot: false) == "/home/ann/.local/share/berth")
        #expect(BerthConfig.defaultDataDirectory(environment: ["HOME": "/home/ann", "XDG_DATA_HOME": "/data"], isRoot: false) == "/data/berth")
        #expect(BerthConfig.defaultDataDirectory(environment: ["HOME": "/root"], isRoot: true) == "/var/lib/berth")
    }

    @Test func environmentWinsOverTheFile() throws {
        let config = try BerthConfig.parse(yaml: Self.full, environment: [
            "BERTH_LISTEN_HOST": "127.0.0.2",
            "BERTH_LISTEN_PORT": "7000",
            "BERTH_DATABASE_URL": "postgresql:///other",
            "BERTH_DATA_DIR": "/tmp/berth",
            "BERTH_PLUGIN_DIRS": "/a:/b",
            "BERTH_SERVER_ID": "env-id",
            "BERTH_DEFAULT_HOST": "sim",
            "BERTH_LOG_LEVEL": "warning",
            "BERTH_MAX_BODY_BYTES": "4096",
        ])
        #expect(config.listen == BerthConfig.Listen(host: "127.0.0.2", port: 7000))
        #expect(config.databaseURL == "postgresql:///other")
        #expect(config.dataDirectory == "/tmp/berth")
        #expect(config.pluginDirectories == ["/a", "/b"])
        #expect(config.serverID == "env-id")
        #expect(config.defaultHost == "sim")
        #expect(config.logLevel == "warning")
        #expect(config.maxBodyBytes == 4096)
    }

    @Test func emptyVariablesAreIgnored() throws {
        let config = try BerthConfig.parse(yaml: Self.full, environment: ["BERTH_LISTEN_PORT": "", "BERTH_SERVER_ID": ""])
        #expect(config.listen.port == 9090)
        #expect(config.serverID == "berth-a")
    }

    @Test(arguments: [
        ("BERTH_LISTEN_PORT", "http", "BERTH_LISTEN_PORT: expected a port number from 1 to 65535, found 'http'"),
        ("BERTH_LISTEN_PORT", "70000", "BERTH_LISTEN_PORT: expected a port number from 1 to 65535, found '70000'"),
        ("BERTH_LOG_LEVEL", "loud", "BERTH_LOG_LEVEL: unknown level 'loud' (one of trace, debug, info, notice, warning, error, critical)"),
        ("BERTH_DEFAULT_HOST", "nowhere", "berth.yaml: default_host: 'nowhere' is not a configured host (hosts: local, sim)"),
    ])
    func badVariables(variable: String, value: String, message: String) {
        #expect(throws: ConfigurationError.self) {
            try BerthConfig.parse(yaml: Self.full, file: "berth.yaml", environment: [variable: value])
        }
        do {
            _ = try BerthConfig.parse(yaml: Self.full, file: "berth.yaml", environment: [variable: value])
        } catch {
            #expect(error.description == message)
        }
    }

    @Test(arguments: [
        ("listen: {port: 8080, hots: x}", "f.yaml: listen.hots: unknown key (expected one of host, port, tls)"),
        ("listen: {tls: {certificate_file: c.pem}}", "f.yaml: listen.tls.key_file: is required"),
        ("lissen: {}", "f.yaml: lissen: unknown key (expected one of dashboard, data_dir, database, default_host, hosts, inputs, job_service, leader_failover_seconds, limits, listen, log, log_level, outputs, plugin_dirs, retention, secrets, server_id, webhooks)"),
        ("listen: {port: http}", "f.yaml: listen.port: expected an integer, found string"),
        ("listen: {port: 0}", "f.yaml: listen.port: expected a port number from 1 to 65535, found 0"),
        ("database: {url: 5}", "f.yaml: database.url: expected a string, found number"),
        ("plugin_dirs: /opt", "f.yaml: plugin_dirs: expected an array of strings, found string"),
        ("plugin_dirs: [/opt, 3]", "f.yaml: plugin_dirs[1]: expected a string, found number"),
        ("log_level: loud", "f.yaml: log_level: unknown level 'loud' (one of trace, debug, info, notice, warning, error, critical)"),
        ("log: {format: xml}", "f.yaml: log.format: unknown format 'xml' (one of text, json)"),
        ("log: {level: info}", "f.yaml: log.level: unknown key (expected one of format)"),
        ("dashboard: {enabled: maybe}", "f.yaml: dashboard.enabled: expected a boolean, found string"),
        ("dashboard: {path: /ui}", "f.yaml: dashboard.path: unknown key (expected one of enabled)"),
        ("limits: {max_body_bytes: 10}", "f.yaml: limits.max_body_bytes: must be at least 1024, found 10"),
        ("limits: {max_header_bytes: 100}", "f.yaml: limits.max_header_bytes: must be from 1024 to 1048576, found 100"),
        ("limits: {idle_timeout_seconds: 0}", "f.yaml: limits.idle_timeout_seconds: must be from 1 to 3600, found 0.0"),
        ("limits: {read_timeout_seconds: 3601}", "f.yaml: limits.read_timeout_seconds: must be from 1 to 3600, found 3601.0"),
        ("webhooks: {allowed_urls: [ftp://x]}", "f.yaml: webhooks.allowed_urls[0]: must start with http:// or https://, found 'ftp://x'"),
        ("job_service: {enabled: true}", "f.yaml: job_service.image: is required when job_service.enabled is true: the image every job runs"),
        ("job_service: {enabled: true, image: x, config_folder: configs}", "f.yaml: job_service.config_folder: must be an absolute path, found 'configs'"),
        ("job_service: {enabled: true, image: x, env: {1X: a}}", "f.yaml: job_service.env.1X: not a valid environment variable name (must match [A-Za-z_][A-Za-z0-9_]*)"),
        ("job_service: {enabled: true, image: x, timeout_seconds: 0}", "f.yaml: job_service.timeout_seconds: must be from 1 to 2147483647, found 0"),
        ("job_service: {enabled: true, image: x, max_log_response_bytes: 10}", "f.yaml: job_service.max_log_response_bytes: must be from 1024 to 1073741824, found 10"),
        ("job_service: {enabled: false, imag: x}", "f.yaml: job_service.imag: unknown key (expected one of args, command, config_folder, enabled, env, image, max_log_response_bytes, timeout_seconds)"),
        ("retention: {finished_seconds: -1}", "f.yaml: retention.finished_seconds: must be 0 (keep for ever) to 315360000 (ten years), found -1.0"),
        ("outputs: {max_log_bytes: 10}", "f.yaml: outputs.max_log_bytes: must be at least 1024, found 10"),
        ("outputs: {max_artifact_bytes: -1}", "f.yaml: outputs.max_artifact_bytes: must be 0 (collect nothing) or more, found -1"),
        ("inputs: {config_path: config.json}", "f.yaml: inputs.config_path: must be an absolute path, found 'config.json'"),
        ("inputs: {config_path: /berth/../etc/x}", "f.yaml: inputs.config_path: must not hold '.' or '..' parts: '/berth/../etc/x'"),
        ("outputs: {keep: true}", "f.yaml: outputs.keep: unknown key (expected one of max_artifact_bytes, max_log_bytes)"),
        ("limits: {max_log_follows_per_token: 0}", "f.yaml: limits.max_log_follows_per_token: must be from 1 to 10000, found 0"),
        ("hosts: {name: a}", "f.yaml: hosts: expected an array of hosts, found object"),
        ("hosts: [{name: a, plugin: docker}, {name: b}]", "f.yaml: hosts[1].plugin: is required"),
        ("hosts: [{plugin: docker}]", "f.yaml: hosts[0].name: is required"),
        ("hosts: [{name: a, plugin: docker, setings: {}}]", "f.yaml: hosts[0].setings: unknown key (expected one of labels, max_concurrent, name, plugin, policy, settings)"),
        ("hosts: [{name: a, plugin: docker, policy: {image: [x]}}]", "f.yaml: hosts[0].policy.image: unknown key (expected one of images, max_cpus, max_memory_mb, max_timeout_seconds)"),
        ("hosts: [{name: a, plugin: docker, policy: {max_cpus: 0}}]", "f.yaml: hosts[0].policy.max_cpus: must be greater than 0, found 0.0"),
        ("hosts: [{name: a, plugin: docker, policy: {images: [\"\"]}}]", "f.yaml: hosts[0].policy.images: patterns must not be empty"),
        ("hosts: [{name: a, plugin: docker, policy: {max_timeout_seconds: 0}}]", "f.yaml: hosts[0].policy.max_timeout_seconds: must be at least 1, found 0"),
        ("leader_failover_seconds: 0.5", "f.yaml: leader_failover_seconds: must be from 1 to 300, found 0.5"),
        ("hosts: [{name: a, plugin: docker, settings: [1]}]", "f.yaml: hosts[0].settings: expected an object, found array"),
        ("hosts: [{name: a, plugin: docker, max_concurrent: 0}]", "f.yaml: hosts[0].max_concurrent: must be at least 1, found 0"),
        ("hosts: [{name: a, plugin: docker, labels: {gpu: 1}}]", "f.yaml: hosts[0].labels.gpu: expected a string, found number"),
        ("hosts: [{name: a, plugin: docker}, {name: a, plugin: simulated}]", "f.yaml: hosts[1].name: 'a' is already the name of hosts[0]"),
        ("default_host: b\nhosts: [{name: a, plugin: docker}]", "f.yaml: default_host: 'b' is not a configured host (hosts: a)"),
        ("- just\n- a list", "f.yaml: expected an object, found array"),
    ])
    func fileErrorsNameTheKey(yaml: String, message: String) {
        do {
            _ = try BerthConfig.parse(yaml: yaml, file: "f.yaml")
            Issue.record("parsed: \(yaml)")
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func invalidYAMLNamesTheFile() {
        do {
            _ = try BerthConfig.parse(yaml: "listen: [\n", file: "f.yaml")
            Issue.record("parsed")
        } catch {
            #expect(error.description.hasPrefix("f.yaml: not valid YAML"))
        }
    }

    @Test func missingFile() {
        do {
            _ = try BerthConfig.load(file: "/nonexistent/berth.yaml", environment: [:])
            Issue.record("loaded")
        } catch {
            #expect(error.description.hasPrefix("/nonexistent/berth.yaml: cannot read the file"))
        }
    }

    @Test func yamlScalarsBecomeJSON() throws {
        let value = try JSONValue(yaml: """
            a: ~
            b: yes
            c: 1.5
            d: "8080"
            e: &x {k: v}
            f: *x
            g: [1, two]
            """)
        #expect(value == [
            "a": nil, "b": true, "c": 1.5, "d": "8080", "e": ["k": "v"], "f": ["k": "v"], "g": [1, "two"],
        ])
    }

    @Test("job_service off (absent, or enabled: false) serves no job routes, whatever else it holds")
    func jobServiceOff() throws {
        #expect(try BerthConfig.parse(yaml: "{}", file: "f.yaml").jobService == nil)
        #expect(try BerthConfig.parse(yaml: "job_service: {enabled: false, image: x}", file: "f.yaml").jobService == nil)
        #expect(try BerthConfig.parse(yaml: "job_service: {image: x}", file: "f.yaml").jobService == nil)
    }

    @Test func exampleFileIsValid() throws {
        let path = #filePath.replacingOccurrences(of: "Tests/BerthCLITests/ConfigurationTests.swift", with: "config/berth.example.yaml")
        let config = try BerthConfig.load(file: path, environment: ["HOME": "/home/ann"])
        #expect(!config.hosts.isEmpty)
    }
}
