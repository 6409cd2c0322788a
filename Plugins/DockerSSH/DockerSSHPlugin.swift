import BerthHTTP
import BerthPluginKit
import DockerEngine
import SSHTransport

/// A remote Docker engine reached over SSH the way `docker -H ssh://user@host` reaches it: exec
/// channels running `docker system dial-stdio` on one long-lived SSH connection, carrying
/// HTTP/1.1 to the engine's API (docs/docker-ssh.md).
///
/// The host's channel budget stays under sshd's default `MaxSessions 10`: one channel for the
/// `/events` stream and a pool of `max_channels` (default 8) keep-alive connections for every
/// other call; followed logs are read by polling over that pool, not one channel each.
struct DockerSSHPlugin: DockerEnginePlugin {
    static let name = "docker-ssh"
    static let version = "1.0.0"
    static let settingsSchema = DockerEngineSettings.schema(adding: DockerSSHSettings.schemaProperties, required: ["address", "user"])

    let engine: DockerEngineBackend
    let keeper: SSHSessionKeeper
    let pools: [HTTP1ConnectionPool]

    static func open(_ settings: PluginSettings) async throws(PluginError) -> DockerSSHPlugin {
        let shared = try DockerEngineSettings(settings, pluginKeys: Set(DockerSSHSettings.schemaProperties.keys))
        let ssh = try DockerSSHSettings(settings)
        let keeper = SSHSessionKeeper(endpoint: ssh.endpoint)
        let description = "ssh://\(ssh.endpoint.user)@\(ssh.endpoint.hostPort)"
        let command = ssh.remoteCommand
        let factory: HTTP1ConnectionPool.Factory = { () async throws(PluginError) -> any ByteStream in
            try await keeper.exec(command)
        }
        let calls = HTTP1ConnectionPool(endpointDescription: description, maxConnections: ssh.maxChannels, factory: factory)
        let events = HTTP1ConnectionPool(endpointDescription: description, maxConnections: 1, factory: factory)
        let engine = DockerEngineBackend(
            transport: calls, eventTransport: events, logFollow: .poll(interval: ssh.logPollInterval), settings: shared)
        return DockerSSHPlugin(engine: engine, keeper: keeper, pools: [calls, events])
    }

    func close() async {
        await engine.close()
        for pool in pools { await pool.close() }
        await keeper.closeAndWait()
    }
}

/// The plugin's one exported symbol.
@_cdecl("berth_plugin_v1")
public func berthPluginV1() -> UnsafeRawPointer { PluginExport.descriptor(for: DockerSSHPlugin.self) }
