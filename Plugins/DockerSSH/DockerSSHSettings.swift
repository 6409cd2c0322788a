import BerthPluginKit
import Foundation
import SSHTransport

/// The SSH half of a `docker-ssh` host's settings (the Docker half is ``DockerEngineSettings``).
struct DockerSSHSettings {
    /// Where and how to log in.
    var endpoint: SSHEndpoint
    /// What runs on the remote side to reach the engine.
    var remoteCommand: String
    /// Keep-alive API connections (channels) at most, besides the events channel.
    var maxChannels: Int
    /// Seconds between polls of a followed log.
    var logPollInterval: Double

    static let defaultRemoteCommand = "docker system dial-stdio"

    static let schemaProperties: [String: JSONValue] = [
        "address": ["type": "string", "minLength": 1, "description": "Name or IP address of the SSH server."],
        "port": ["type": "integer", "minimum": 1, "maximum": 65535, "default": 22, "description": "Port of the SSH server."],
        "user": ["type": "string", "minLength": 1, "description": "User to log in as (must be allowed to use Docker)."],
        "identity_file": ["type": "string", "minLength": 1,
                          "description": "Private key file: ed25519 or ecdsa (rsa keys need a server that accepts ssh-rsa signatures)."],
        "passphrase": ["type": "string", "description": "Passphrase of the identity file. Never logged."],
        "use_agent": ["type": "boolean", "default": false,
                      "description": "Also try the keys of an ssh-agent."],
        "agent_socket": ["type": "string", "minLength": 1,
                         "description": "The ssh-agent's socket (default: SSH_AUTH_SOCK of the server's environment)."],
        "known_hosts": ["type": "string", "minLength": 1,
                        "description": "known_hosts file holding the server's key (default ~/.ssh/known_hosts)."],
        "strict_host_key_checking": ["type": "boolean", "default": true,
                                     "description": "Refuse a server whose key is not in known_hosts. Off: an unknown key is accepted (a changed one never). Turn off only on a trusted network."],
        "connect_timeout_seconds": ["type": "number", "exclusiveMinimum": 0, "default": 10,
                                    "description": "Seconds for connecting, the handshake and the login."],
        "keepalive_seconds": ["type": "integer", "minimum": 0, "default": 15,
                              "description": "Seconds between SSH keepalive messages; 0 for none."],
        "remote_command": ["type": "string", "minLength": 1, "default": .string(defaultRemoteCommand),
                           "description": "Command that connects stdin/stdout to the engine's API, e.g. 'socat - UNIX-CONNECT:/run/docker.sock'."],
        "max_channels": ["type": "integer", "minimum": 1, "maximum": 64, "default": 8,
                         "description": "API connections (SSH channels) at most, besides the one for events; keep the sum under sshd's MaxSessions (10)."],
        "log_poll_interval_seconds": ["type": "number", "exclusiveMinimum": 0, "default": 0.5,
                                      "description": "Seconds between reads of a followed log."],
    ]

    /// Reads the settings.
    /// - Throws: `invalid_config` naming the key.
    init(_ settings: PluginSettings) throws(PluginError) {
        let host = settings.host
        let reader = try settings.reader()
        do {
            let identityFile = try reader.optionalString("identity_file")
            let useAgent = try reader.optionalBool("use_agent") ?? false
            guard identityFile != nil || useAgent else {
                throw JSONError(location: "settings.identity_file", reason: "set identity_file or use_agent: true")
            }
            let port = try reader.optionalInt("port") ?? 22
            guard (1...65535).contains(port) else {
                throw JSONError(location: "settings.port", reason: "must be between 1 and 65535")
            }
            let connectTimeout = try reader.optionalDouble("connect_timeout_seconds") ?? 10
            let keepalive = try reader.optionalInt("keepalive_seconds") ?? 15
            guard connectTimeout > 0, keepalive >= 0 else {
                throw JSONError(location: "settings", reason: "connect_timeout_seconds must be positive, keepalive_seconds not negative")
            }
            let home = ProcessInfo.processInfo.environment["HOME"] ?? "/root"
            endpoint = SSHEndpoint(
                address: try reader.string("address"), port: Int(port), user: try reader.string("user"),
                identityFile: identityFile, passphrase: try reader.optionalString("passphrase"), useAgent: useAgent,
                agentSocket: try reader.optionalString("agent_socket"),
                knownHostsFile: try reader.optionalString("known_hosts") ?? "\(home)/.ssh/known_hosts",
                strictHostKeyChecking: try reader.optionalBool("strict_host_key_checking") ?? true,
                connectTimeout: connectTimeout, keepaliveInterval: Int(keepalive))
            remoteCommand = try reader.optionalString("remote_command") ?? Self.defaultRemoteCommand
            maxChannels = Int(try reader.optionalInt("max_channels") ?? 8)
            logPollInterval = try reader.optionalDouble("log_poll_interval_seconds") ?? 0.5
            guard (1...64).contains(maxChannels), logPollInterval > 0 else {
                throw JSONError(location: "settings", reason: "max_channels must be 1 to 64, log_poll_interval_seconds positive")
            }
        } catch {
            throw PluginError(.invalidConfig, "host \(host): \(error)")
        }
    }
}
