import BerthHTTP
public import BerthPluginKit

/// A ``Backend`` on a Kubernetes namespace: each attempt a `batch/v1` Job with one pod
/// (docs/kubernetes.md).
public final class KubernetesBackend: Backend {
    /// The API client.
    public let client: KubernetesClient
    /// The host's settings.
    public let settings: KubernetesSettings
    /// The namespace Jobs go to.
    public let namespace: String
    let template: JobTemplate
    let pulls: ImagePullGrace
    let eventHub: BackendEventHub

    /// A backend with `settings`, reading its credentials now (files are read once; a token
    /// file again every minute).
    /// - Throws: `invalid_config` naming what is wrong with the kubeconfig or service account.
    public convenience init(settings: KubernetesSettings) throws(PluginError) {
        let credentials: KubernetesCredentials
        switch settings.credentials {
        case .kubeconfig(let path, let context): credentials = try Kubeconfig.load(path: path, context: context)
        case .inCluster: credentials = try InClusterConfig.load()
        }
        let client = KubernetesClient(
            credentials: credentials, connectTimeout: settings.connectTimeout, requestTimeout: settings.requestTimeout)
        self.init(client: client, settings: settings)
    }

    /// A backend calling `client`.
    public init(client: KubernetesClient, settings: KubernetesSettings) {
        self.client = client
        self.settings = settings
        let namespace = settings.namespace ?? client.credentials.namespace ?? "default"
        self.namespace = namespace
        var template = settings.template
        template.namespace = namespace
        self.template = template
        let pulls = ImagePullGrace(grace: settings.imagePullGrace)
        self.pulls = pulls
        self.eventHub = PodWatchPump(client: client, namespace: namespace, server: settings.server, pulls: pulls).hub()
    }

    var host: String { settings.host }

    /// The Job of a handle.
    static func jobName(_ handle: RuntimeHandle, host: String) throws(PluginError) -> String {
        guard let name = handle.json["job"]?.stringValue, !name.isEmpty else {
            throw PluginError(.invalidSpec, "host \(host): runtime handle \(handle) names no Job")
        }
        return name
    }

    /// The handle of the Job `name`.
    func handle(job name: String) -> RuntimeHandle {
        RuntimeHandle(json: ["job": .string(name), "namespace": .string(namespace)])
    }

    /// The API server's version and whether the namespace's pods can be listed.
    public func health() async -> Health {
        do throws(PluginError) {
            let version = try await client.call("GET", "/version", verb: "get", resource: "version").body
            _ = try await client.call(
                "GET", KubernetesClient.path("pods", namespace: namespace), query: [("limit", "1")],
                verb: "list", resource: "pods in namespace \(namespace)")
            let gitVersion = version?["gitVersion"]?.stringValue
            return Health(ok: true, message: "Kubernetes \(gitVersion ?? "?") at \(client.server), namespace \(namespace)", engineVersion: gitVersion)
        } catch {
            return Health(ok: false, message: "host \(host): \(error.message)")
        }
    }

    /// The configured limit, and the attempts whose pods are not finished.
    public func capacity() async throws(PluginError) -> Capacity {
        let pods = try await listPods([BerthLabel.server: settings.server])
        let active = pods.filter { ["Pending", "Running"].contains($0["status"]?["phase"]?.stringValue ?? "Pending") }
        return Capacity(maxConcurrent: settings.maxConcurrent, running: active.count)
    }

    /// Creates the attempt's Job; a Job of the same attempt that exists already is adopted.
    ///
    /// Input files go first into a ConfigMap of the same name, which the pod mounts file by
    /// file; once the Job exists the ConfigMap is made the Job's dependent, so Kubernetes deletes
    /// it with the Job (by Berth, or by `ttl_seconds_after_finished`).
    public func start(_ spec: ExecutionSpec) async throws(PluginError) -> RuntimeHandle {
        let job = try template.job(spec, server: settings.server)
        let name = JobTemplate.jobName(spec)
        let configMap = try template.configMap(spec, server: settings.server)
        if let configMap {
            _ = try await client.call(
                "POST", KubernetesClient.path("configmaps", namespace: namespace), json: configMap,
                verb: "create", resource: "configmaps in namespace \(namespace) (execution \(spec.executionID))", accepted: [201, 409])
        }
        let (status, created) = try await client.call(
            "POST", KubernetesClient.path("jobs", namespace: namespace), json: job,
            verb: "create", resource: "jobs in namespace \(namespace) (execution \(spec.executionID))", accepted: [201, 409])
        if configMap != nil {
            try await ownConfigMap(name, byJob: status == 201 ? created : nil, execution: spec.executionID)
        }
        return handle(job: name)
    }

    /// Makes Job `name` the owner of its ConfigMap (a merge patch of `ownerReferences`).
    private func ownConfigMap(_ name: String, byJob created: JSONValue?, execution: String) async throws(PluginError) {
        var uid = created?["metadata"]?["uid"]?.stringValue
        if uid == nil {
            uid = try await client.call(
                "GET", KubernetesClient.path("jobs", namespace: namespace, name: name),
                verb: "get", resource: "jobs/\(name) in namespace \(namespace)").body?["metadata"]?["uid"]?.stringValue
        }
        guard let uid else { throw PluginError(.internal, "host \(host): execution \(execution): Job \(name) has no uid") }
        let owner: JSONValue = ["apiVersion": "batch/v1", "kind": "Job", "name": .string(name), "uid": .string(uid)]
        _ = try await client.call(
            "PATCH", KubernetesClient.path("configmaps", namespace: namespace, name: name), json: ["metadata": ["ownerReferences": [owner]]],
            contentType: "application/merge-patch+json",
            verb: "patch", resource: "configmaps/\(name) in namespace \(namespace) (execution \(execution))")
    }

    /// The status of the Job's pod, or of the Job while it has none.
    public func inspect(_ handle: RuntimeHandle) async throws(PluginError) -> RuntimeStatus {
        let name = try Self.jobName(handle, host: host)
        if let pod = try await pod(ofJob: name) {
            return status(of: pod)
        }
        let (code, job) = try await client.call(
            "GET", KubernetesClient.path("jobs", namespace: namespace, name: name),
            verb: "get", resource: "jobs/\(name) in namespace \(namespace)", accepted: [200, 404])
        guard code == 200, let job else {
            throw PluginError(.notFound, "host \(host): Job \(name) in namespace \(namespace) does not exist")
        }
        let failed = (job["status"]?["conditions"]?.arrayValue ?? []).first {
            $0["type"]?.stringValue == "Failed" && $0["status"]?.stringValue == "True"
        }
        if let failed {
            let reason = [failed["reason"]?.stringValue, failed["message"]?.stringValue].compactMap { $0 }.joined(separator: ": ")
            return RuntimeStatus(state: .failed, reason: reason)
        }
        return RuntimeStatus(state: .created, reason: "waiting for the Job's pod")
    }

    /// A pod's status, failing it as `image_not_found` once its pull problem outlasts the grace.
    func status(of pod: JSONValue) -> RuntimeStatus {
        let metadata = pod["metadata"] ?? [:]
        let labels = (metadata["labels"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
        let job = labels["job-name"] ?? labels["batch.kubernetes.io/job-name"] ?? ""
        return pulls.status(
            PodStatus(pod: pod), uid: metadata["uid"]?.stringValue ?? "", handle: handle(job: job), labels: labels)
    }

    /// Deletes the Job's pods with `graceSeconds` (SIGTERM, then SIGKILL after it), then the
    /// Job (background propagation), and completes once no pod of the Job runs any more, as the
    /// ABI's `stop` must. The pods are deleted explicitly because the grace of a Job's deletion
    /// does not reach its pods: the garbage collector would use their own
    /// `terminationGracePeriodSeconds`. Kubernetes has no kill without delete, so the attempt
    /// is gone afterwards: `inspect` answers `not_found`.
    public func stop(_ handle: RuntimeHandle, graceSeconds: Double) async throws(PluginError) {
        let name = try Self.jobName(handle, host: host)
        let grace = String(Int(graceSeconds.rounded(.up)))
        for pod in try await listPods(["job-name": name]) {
            guard let podName = pod["metadata"]?["name"]?.stringValue else { continue }
            _ = try await client.call(
                "DELETE", KubernetesClient.path("pods", namespace: namespace, name: podName), query: [("gracePeriodSeconds", grace)],
                verb: "delete", resource: "pods/\(podName) in namespace \(namespace)", accepted: [200, 202, 404])
        }
        try await deleteJob(name, grace: grace)
        // The kubelet kills a pod at the end of its grace; allow it that and a margin.
        let deadline = ContinuousClock.now + .seconds(graceSeconds) + Self.stopMargin
        while true {
            let live = try await listPods(["job-name": name]).filter { pod in
                let phase = pod["status"]?["phase"]?.stringValue
                return phase != "Succeeded" && phase != "Failed"
            }
            if live.isEmpty { return }
            guard ContinuousClock.now < deadline else {
                throw PluginError(
                    .timeout, "host \(host): the pod of Job \(name) in namespace \(namespace) still runs \(Self.stopMargin) after its grace of \(grace) s")
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    /// How long past its grace `stop` waits for a deleted pod to go.
    static let stopMargin: Duration = .seconds(30)

    /// Deletes the Job and its pods at once.
    public func remove(_ handle: RuntimeHandle) async throws(PluginError) {
        try await deleteJob(try Self.jobName(handle, host: host), grace: "0")
    }

    private func deleteJob(_ name: String, grace: String) async throws(PluginError) {
        _ = try await client.call(
            "DELETE", KubernetesClient.path("jobs", namespace: namespace, name: name),
            query: [("propagationPolicy", "Background"), ("gracePeriodSeconds", grace)],
            verb: "delete", resource: "jobs/\(name) in namespace \(namespace)", accepted: [200, 202, 404])
    }

    /// Jobs carrying all of `labels`, each with the status of its pod.
    public func list(labels: [String: String]) async throws(PluginError) -> [RuntimeObject] {
        let (_, body) = try await client.call(
            "GET", KubernetesClient.path("jobs", namespace: namespace), query: [("labelSelector", KubernetesClient.selector(labels))],
            verb: "list", resource: "jobs in namespace \(namespace)")
        let jobs = body?["items"]?.arrayValue ?? []
        let pods = try await listPods(labels)
        var objects: [RuntimeObject] = []
        for job in jobs {
            guard let name = job["metadata"]?["name"]?.stringValue else { continue }
            let jobLabels = (job["metadata"]?["labels"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
            let pod = Self.newest(pods.filter { $0["metadata"]?["labels"]?["job-name"]?.stringValue == name })
            let status = pod.map(status(of:)) ?? RuntimeStatus(state: .created, reason: "waiting for the Job's pod")
            objects.append(RuntimeObject(handle: handle(job: name), labels: jobLabels, status: status))
        }
        return objects
    }

    /// The pods carrying all of `labels`.
    func listPods(_ labels: [String: String]) async throws(PluginError) -> [JSONValue] {
        let (_, body) = try await client.call(
            "GET", KubernetesClient.path("pods", namespace: namespace), query: [("labelSelector", KubernetesClient.selector(labels))],
            verb: "list", resource: "pods in namespace \(namespace)")
        return body?["items"]?.arrayValue ?? []
    }

    /// The Job's newest pod, if it has one.
    func pod(ofJob name: String) async throws(PluginError) -> JSONValue? {
        Self.newest(try await listPods(["job-name": name]))
    }

    static func newest(_ pods: [JSONValue]) -> JSONValue? {
        pods.max { ($0["metadata"]?["creationTimestamp"]?.stringValue ?? "") < ($1["metadata"]?["creationTimestamp"]?.stringValue ?? "") }
    }

    /// The instance's shared event stream.
    public func events() -> PluginStream<BackendEvent> {
        eventHub.subscribe()
    }

    /// Ends the event stream.
    public func close() async {
        eventHub.shutdown()
    }
}
