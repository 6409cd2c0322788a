import BerthPluginKit
import CurlHTTP
import DockerEngine

/// The local Docker engine over its unix socket, through libcurl.
struct DockerPlugin: DockerEnginePlugin {
    static let name = "docker"
    static let version = "1.0.0"
    static let settingsSchema = DockerEngineSettings.schema(adding: [
        "socket_path": ["type": "string", "minLength": 1, "default": "/var/run/docker.sock",
                        "description": "Path of the engine's unix socket."],
        "connect_timeout_seconds": ["type": "number", "exclusiveMinimum": 0, "default": 5,
                                    "description": "Seconds allowed for connecting to the socket."],
    ])

    let engine: DockerEngineBackend

    static func open(_ settings: PluginSettings) async throws(PluginError) -> DockerPlugin {
        let shared = try DockerEngineSettings(settings, pluginKeys: ["socket_path", "connect_timeout_seconds"])
        let reader = try settings.reader()
        let socketPath: String
        let connectTimeout: Double
        do {
            socketPath = try reader.optionalString("socket_path") ?? "/var/run/docker.sock"
            connectTimeout = try reader.optionalDouble("connect_timeout_seconds") ?? 5
        } catch {
            throw PluginError(.invalidConfig, "host \(settings.host): \(error)")
        }
        guard !socketPath.isEmpty, connectTimeout > 0 else {
            throw PluginError(.invalidConfig, "host \(settings.host): settings.socket_path must not be empty")
        }
        let transport = CurlTransport(endpoint: .unixSocket(socketPath), connectTimeout: connectTimeout)
        return DockerPlugin(engine: DockerEngineBackend(transport: transport, settings: shared))
    }
}

/// The plugin's one exported symbol.
@_cdecl("berth_plugin_v1")
public func berthPluginV1() -> UnsafeRawPointer { PluginExport.descriptor(for: DockerPlugin.self) }
