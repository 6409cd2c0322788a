public import BerthPluginKit

/// What a host's settings add to every Job it creates.
public struct JobTemplate: Sendable, Hashable {
    /// The namespace Jobs go to.
    public var namespace: String
    /// Seconds a finished Job (and its pod) is kept before Kubernetes deletes it; nil: never.
    public var ttlSecondsAfterFinished: Int?
    /// The pull policy when a spec sets none.
    public var pullPolicy: ExecutionSpec.PullPolicy
    /// Node labels a pod must match.
    public var nodeSelector: [String: String]
    /// Tolerations, as the API writes them (`{"key", "operator", "value", "effect"}`).
    public var tolerations: [JSONValue]
    /// The pod's service account; nil: the namespace's default.
    public var serviceAccountName: String?
    /// Secrets holding registry credentials.
    public var imagePullSecrets: [String]
    /// The name of the one container in each pod.
    public static let containerName = "main"
    /// The volume that carries an attempt's input files (from its ConfigMap).
    static let filesVolume = "berth-files"
    /// The most bytes of input files one attempt may have: a ConfigMap's limit (keys and values).
    public static let maxFileBytes = 1_048_576

    /// A template.
    public init(
        namespace: String, ttlSecondsAfterFinished: Int? = 600, pullPolicy: ExecutionSpec.PullPolicy = .ifNotPresent,
        nodeSelector: [String: String] = [:], tolerations: [JSONValue] = [], serviceAccountName: String? = nil,
        imagePullSecrets: [String] = []
    ) {
        self.namespace = namespace
        self.ttlSecondsAfterFinished = ttlSecondsAfterFinished
        self.pullPolicy = pullPolicy
        self.nodeSelector = nodeSelector
        self.tolerations = tolerations
        self.serviceAccountName = serviceAccountName
        self.imagePullSecrets = imagePullSecrets
    }

    /// The Job's name for an attempt: unique per execution and attempt (a second create of the
    /// same attempt is a 409, and the first Job is adopted), and a valid DNS-1123 label.
    public static func jobName(_ spec: ExecutionSpec) -> String {
        let safe = spec.executionID.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        return String("berth-\(String(safe))".prefix(52)) + "-\(spec.attempt)"
    }

    /// The `batch/v1` Job for one attempt: one pod, never restarted (`backoffLimit: 0`,
    /// `restartPolicy: Never`), Berth's labels on Job and pod, the spec's env, command, args,
    /// working dir, and cpu and memory as both requests and limits.
    /// - Throws: `invalid_spec` naming a label that Kubernetes would refuse.
    public func job(_ spec: ExecutionSpec, server: String) throws(PluginError) -> JSONValue {
        let labels = spec.runtimeLabels(server: server)
        for (key, value) in labels {
            guard Self.isLabelKey(key) else { throw PluginError(.invalidSpec, "label '\(key)' is not a valid Kubernetes label key") }
            guard Self.isLabelValue(value) else {
                throw PluginError(.invalidSpec, "label \(key): '\(value)' is not a valid Kubernetes label value (63 characters at most, letters, digits, '-', '_', '.')")
            }
        }
        var container: [String: JSONValue] = [
            "name": .string(Self.containerName),
            "image": .string(spec.image),
            "imagePullPolicy": .string(Self.kubernetesPolicy(spec.pullPolicy ?? pullPolicy)),
            "env": .array(spec.env.keys.sorted().map { ["name": .string($0), "value": .string(spec.env[$0]!)] }),
            "securityContext": ["allowPrivilegeEscalation": false],
        ]
        if !spec.files.isEmpty {
            // Each file is one key of the attempt's ConfigMap, mounted alone at its path.
            container["volumeMounts"] = .array(spec.files.enumerated().map { index, file in
                ["name": .string(Self.filesVolume), "mountPath": .string(file.path), "subPath": .string(Self.fileKey(index)), "readOnly": true]
            })
        }
        if let command = spec.command { container["command"] = JSONValue(command) }
        if !spec.args.isEmpty { container["args"] = JSONValue(spec.args) }
        if let workingDir = spec.workingDir { container["workingDir"] = .string(workingDir) }
        var quantities: [String: JSONValue] = [:]
        if let cpus = spec.cpus { quantities["cpu"] = .string("\(max(1, Int((cpus * 1000).rounded())))m") }
        if let memory = spec.memoryBytes { quantities["memory"] = .string(String(memory)) }
        if !quantities.isEmpty { container["resources"] = ["requests": .object(quantities), "limits": .object(quantities)] }

        var pod: [String: JSONValue] = [
            "restartPolicy": "Never",
            "automountServiceAccountToken": false,
            "containers": [.object(container)],
        ]
        if !nodeSelector.isEmpty { pod["nodeSelector"] = JSONValue(nodeSelector) }
        if !tolerations.isEmpty { pod["tolerations"] = .array(tolerations) }
        if let serviceAccountName { pod["serviceAccountName"] = .string(serviceAccountName) }
        if !imagePullSecrets.isEmpty { pod["imagePullSecrets"] = .array(imagePullSecrets.map { ["name": .string($0)] }) }
        if let timeout = spec.timeoutSeconds { pod["activeDeadlineSeconds"] = .number(Double(timeout)) }
        if !spec.files.isEmpty {
            pod["volumes"] = [[
                "name": .string(Self.filesVolume),
                "configMap": [
                    "name": .string(Self.jobName(spec)),
                    "items": .array(spec.files.indices.map { index in
                        ["key": .string(Self.fileKey(index)), "path": .string(Self.fileKey(index)), "mode": .number(Double(spec.files[index].mode))]
                    }),
                ],
            ]]
        }

        var jobSpec: [String: JSONValue] = [
            "backoffLimit": 0,
            "completions": 1,
            "parallelism": 1,
            "template": ["metadata": ["labels": JSONValue(labels)], "spec": .object(pod)],
        ]
        if let timeout = spec.timeoutSeconds { jobSpec["activeDeadlineSeconds"] = .number(Double(timeout)) }
        if let ttl = ttlSecondsAfterFinished { jobSpec["ttlSecondsAfterFinished"] = .number(Double(ttl)) }
        return [
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": ["name": .string(Self.jobName(spec)), "namespace": .string(namespace), "labels": JSONValue(labels)],
            "spec": .object(jobSpec),
        ]
    }

    /// The `v1` ConfigMap that carries the attempt's input files (named as its Job, with the
    /// same labels), or nil when it has none.
    /// - Throws: `invalid_spec` when the files are larger than a ConfigMap can hold.
    public func configMap(_ spec: ExecutionSpec, server: String) throws(PluginError) -> JSONValue? {
        guard !spec.files.isEmpty else { return nil }
        let size = spec.files.indices.reduce(0) { $0 + Self.fileKey($1).utf8.count + spec.files[$1].data.count }
        guard size <= Self.maxFileBytes else {
            throw PluginError(
                .invalidSpec,
                "the input files (\(spec.files.map(\.path).joined(separator: ", "))) take \(size) bytes; a Kubernetes ConfigMap holds at most \(Self.maxFileBytes)")
        }
        var binaryData: [String: JSONValue] = [:]
        for (index, file) in spec.files.enumerated() { binaryData[Self.fileKey(index)] = .string(Base64.encode(file.data)) }
        return [
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": ["name": .string(Self.jobName(spec)), "namespace": .string(namespace), "labels": JSONValue(spec.runtimeLabels(server: server))],
            "binaryData": .object(binaryData),
        ]
    }

    /// The ConfigMap key of input file `index`.
    static func fileKey(_ index: Int) -> String { "file-\(index)" }

    static func kubernetesPolicy(_ policy: ExecutionSpec.PullPolicy) -> String {
        switch policy {
        case .ifNotPresent: "IfNotPresent"
        case .always: "Always"
        case .never: "Never"
        }
    }

    /// A label key: an optional DNS subdomain prefix and `/`, and a name of 63 characters at most.
    static func isLabelKey(_ key: String) -> Bool {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let name = parts.last, isLabelValue(String(name)), !name.isEmpty else { return false }
        if parts.count == 2 {
            let prefix = parts[0]
            guard !prefix.isEmpty, prefix.count <= 253,
                  prefix.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") })
            else { return false }
        }
        return true
    }

    /// A label value: empty, or 63 characters at most of letters, digits, `-`, `_`, `.`,
    /// beginning and ending with a letter or digit.
    static func isLabelValue(_ value: String) -> Bool {
        guard !value.isEmpty else { return true }
        guard value.count <= 63,
              value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }),
              let first = value.first, let last = value.last,
              first.isLetter || first.isNumber, last.isLetter || last.isNumber
        else { return false }
        return true
    }
}
