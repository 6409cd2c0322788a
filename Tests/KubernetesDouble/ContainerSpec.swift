import BerthPluginKit

/// What the double runs for a pod's container: its fields from the pod spec, read once when
/// the Job is admitted.
struct ContainerSpec: Sendable {
    /// Where an environment variable's value comes from.
    enum EnvSource: Sendable {
        /// A literal value.
        case value(String)
        /// A field of the pod (`fieldRef.fieldPath`).
        case field(String)
        /// A key of a Secret or ConfigMap (`secret`, `configmap`); the double has none.
        case reference(kind: String, name: String, optional: Bool)
        /// A source the double does not resolve (`resourceFieldRef`).
        case unsupported(String)
    }

    /// The container's name.
    var name: String
    /// The image reference.
    var image: String
    /// `Always`, `IfNotPresent` or `Never`.
    var pullPolicy: String
    /// `command`: replaces the image's entrypoint.
    var command: [String]?
    /// `args`: replaces the image's cmd.
    var args: [String]?
    /// `env`, in order.
    var env: [(name: String, source: EnvSource)]
    /// `envFrom` Secrets and ConfigMaps (`secret`/`configmap`, name, optional).
    var envFrom: [(kind: String, name: String, optional: Bool)]
    /// `workingDir`.
    var workingDir: String?
    /// `resources.limits.memory`, in bytes.
    var memoryLimit: Int64?
    /// `resources.limits.cpu`, in billionths of a CPU.
    var nanoCPUs: Int64?
    /// `securityContext.runAsUser` (or the pod's).
    var runAsUser: Int?
    /// `securityContext.runAsGroup` (or the pod's).
    var runAsGroup: Int?
    /// `securityContext.readOnlyRootFilesystem`.
    var readOnlyRootFilesystem: Bool
    /// `securityContext.allowPrivilegeEscalation == false`.
    var noNewPrivileges: Bool
    /// `tty`.
    var tty: Bool
    /// `stdin`.
    var stdin: Bool
    /// `volumeMounts`, with their volumes.
    var mounts: [VolumeMount] = []

    /// The body of `POST /containers/create` for this container in `pod`, or the
    /// `CreateContainerConfigError` message when an environment variable cannot be resolved.
    func dockerConfig(pod: PodRecord, namespace: String, labels: [String: String]) -> Result<JSONValue, ConfigError> {
        var environment: [String] = []
        if let missing = envFrom.first(where: { !$0.optional }) {
            return .failure(ConfigError(message: "\(missing.kind) \"\(missing.name)\" not found"))
        }
        for (name, source) in env {
            switch source {
            case .value(let value):
                environment.append("\(name)=\(value)")
            case .field(let path):
                guard let value = pod.fieldValue(path, namespace: namespace) else {
                    return .failure(ConfigError(message: "unsupported fieldPath: \(path)"))
                }
                environment.append("\(name)=\(value)")
            case .reference(let kind, let referenced, let optional):
                if !optional { return .failure(ConfigError(message: "\(kind) \"\(referenced)\" not found")) }
            case .unsupported(let what):
                return .failure(ConfigError(message: "\(what) is not supported by the Kubernetes double"))
            }
        }
        var host: [String: JSONValue] = ["NetworkMode": "none"]
        if let memoryLimit { host["Memory"] = .number(Double(memoryLimit)) }
        if let nanoCPUs { host["NanoCpus"] = .number(Double(nanoCPUs)) }
        if readOnlyRootFilesystem { host["ReadonlyRootfs"] = true }
        if noNewPrivileges { host["SecurityOpt"] = ["no-new-privileges"] }
        var config: [String: JSONValue] = [
            "Image": .string(image), "Env": JSONValue(environment), "Labels": JSONValue(labels),
            "Hostname": .string(String(pod.meta.name.prefix(63))), "HostConfig": .object(host),
            "Tty": .bool(tty), "OpenStdin": .bool(stdin),
        ]
        if let command { config["Entrypoint"] = JSONValue(command) }
        if let args { config["Cmd"] = JSONValue(args) }
        if let workingDir, !workingDir.isEmpty { config["WorkingDir"] = .string(workingDir) }
        if let runAsUser { config["User"] = .string(runAsGroup.map { "\(runAsUser):\($0)" } ?? String(runAsUser)) }
        return .success(.object(config))
    }

    /// Why a container's configuration cannot be made (`CreateContainerConfigError`).
    struct ConfigError: Error, Sendable {
        /// The kubelet's message.
        let message: String
    }
}
