public import BerthPluginKit

/// A `kubernetes` host's settings.
public struct KubernetesSettings: Sendable {
    /// Where the credentials come from.
    public enum CredentialSource: Sendable, Hashable {
        /// A kubeconfig file and a context in it (nil: its current context).
        case kubeconfig(path: String, context: String?)
        /// The service account of the pod Berth runs in.
        case inCluster
    }

    /// How pod logs are read.
    public enum LogStreams: String, Sendable, Hashable {
        /// One request; the API server merges stdout and stderr (reported as stdout).
        case combined
        /// One request per stream (`stream=Stdout|Stderr`, Kubernetes 1.32+ with the
        /// `PodLogsQuerySplitStreams` feature): stdout and stderr kept apart.
        case split
    }

    /// Where the credentials come from.
    public var credentials: CredentialSource
    /// The namespace; nil: the context's or the service account's, else `default`.
    public var namespace: String?
    /// What every Job gets (the namespace is filled in when the credentials are read).
    public var template: JobTemplate
    /// Attempts this host runs at once at most.
    public var maxConcurrent: Int
    /// Seconds a pod may fail to pull its image before the attempt fails as `image_not_found`.
    public var imagePullGrace: Double
    /// Seconds an ordinary API call may take.
    public var requestTimeout: Double
    /// Seconds for connecting.
    public var connectTimeout: Double
    /// How logs are read.
    public var logStreams: LogStreams
    /// The target host's name, for messages.
    public var host: String
    /// The Berth server id, for the `berth.server` label.
    public var server: String

    /// The settings' JSON Schema.
    public static let schema: JSONValue = [
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": [
            "kubeconfig": ["type": "string", "minLength": 1, "description": "Path of a kubeconfig file."],
            "context": ["type": "string", "minLength": 1, "description": "Context in the kubeconfig (default: its current-context)."],
            "in_cluster": ["type": "boolean", "default": false,
                           "description": "Use the service account of the pod Berth runs in instead of a kubeconfig."],
            "namespace": ["type": "string", "minLength": 1,
                          "description": "Namespace for Jobs (default: the context's or the service account's, else 'default')."],
            "max_concurrent": ["type": "integer", "minimum": 1, "default": 10, "description": "Attempts this host runs at once at most."],
            "pull_policy": ["enum": ["if_not_present", "always", "never"], "default": "if_not_present",
                            "description": "imagePullPolicy when a spec sets none."],
            "ttl_seconds_after_finished": ["type": "integer", "minimum": 0, "default": 600,
                                           "description": "Seconds Kubernetes keeps a finished Job before deleting it."],
            "node_selector": ["type": "object", "additionalProperties": ["type": "string"], "description": "Node labels pods must match."],
            "tolerations": ["type": "array", "items": ["type": "object"], "description": "Pod tolerations, as the Kubernetes API writes them."],
            "service_account": ["type": "string", "minLength": 1, "description": "serviceAccountName of the pods."],
            "image_pull_secrets": ["type": "array", "items": ["type": "string", "minLength": 1],
                                   "description": "Names of Secrets with registry credentials."],
            "image_pull_grace_seconds": ["type": "number", "minimum": 0, "default": 60,
                                         "description": "Seconds of ErrImagePull/ImagePullBackOff before the attempt fails as image_not_found."],
            "request_timeout_seconds": ["type": "number", "exclusiveMinimum": 0, "default": 30, "description": "Seconds an API call may take."],
            "connect_timeout_seconds": ["type": "number", "exclusiveMinimum": 0, "default": 5, "description": "Seconds for connecting."],
            "log_streams": ["enum": ["combined", "split"], "default": "combined",
                            "description": "combined: one log request (stdout and stderr merged); split: one per stream (Kubernetes 1.32+ PodLogsQuerySplitStreams)."],
        ],
        "additionalProperties": false,
    ]

    /// Reads the settings.
    /// - Throws: `invalid_config` naming the key.
    public init(_ settings: PluginSettings) throws(PluginError) {
        host = settings.host
        server = settings.server
        try settings.rejectUnknownKeys(allowed: Set(Self.schema["properties"]?.objectValue?.keys.map { $0 } ?? []))
        let reader = try settings.reader()
        do {
            let inCluster = try reader.optionalBool("in_cluster") ?? false
            let kubeconfig = try reader.optionalString("kubeconfig")
            switch (inCluster, kubeconfig) {
            case (true, nil): credentials = .inCluster
            case (false, let path?): credentials = .kubeconfig(path: path, context: try reader.optionalString("context"))
            case (true, _?): throw JSONError(location: "settings.kubeconfig", reason: "set either kubeconfig or in_cluster: true, not both")
            case (false, nil): throw JSONError(location: "settings.kubeconfig", reason: "set kubeconfig, or in_cluster: true")
            }
            namespace = try reader.optionalString("namespace")
            maxConcurrent = Int(try reader.optionalInt("max_concurrent") ?? 10)
            guard maxConcurrent >= 1 else { throw JSONError(location: "settings.max_concurrent", reason: "must be at least 1") }
            let ttl = try reader.optionalInt("ttl_seconds_after_finished") ?? 600
            guard ttl >= 0 else { throw JSONError(location: "settings.ttl_seconds_after_finished", reason: "must not be negative") }
            template = JobTemplate(
                namespace: namespace ?? "default", ttlSecondsAfterFinished: Int(ttl),
                pullPolicy: try reader.optionalEnum("pull_policy", ExecutionSpec.PullPolicy.self) ?? .ifNotPresent,
                nodeSelector: try reader.optionalStringMap("node_selector") ?? [:],
                tolerations: reader.value("tolerations")?.arrayValue ?? [],
                serviceAccountName: try reader.optionalString("service_account"),
                imagePullSecrets: try reader.optionalStrings("image_pull_secrets") ?? [])
            imagePullGrace = try reader.optionalDouble("image_pull_grace_seconds") ?? 60
            requestTimeout = try reader.optionalDouble("request_timeout_seconds") ?? 30
            connectTimeout = try reader.optionalDouble("connect_timeout_seconds") ?? 5
            guard imagePullGrace >= 0, requestTimeout > 0, connectTimeout > 0 else {
                throw JSONError(location: "settings", reason: "timeouts must be positive")
            }
            logStreams = try reader.optionalEnum("log_streams", LogStreams.self) ?? .combined
        } catch {
            throw PluginError(.invalidConfig, "host \(host): \(error)")
        }
    }
}
