import BerthPluginKit
import Foundation

/// The state of the double's one-node cluster: Jobs and pods, the resourceVersion counter, the
/// watch history and watchers, and the tasks that play the Job controller and the kubelet.
/// Both listeners share it.
actor Cluster {
    /// One change, kept for watches that resume from a resourceVersion.
    struct HistoryEvent: Sendable {
        /// The resourceVersion the change made.
        var revision: Int
        /// `pods` or `jobs`.
        var resource: String
        /// `ADDED`, `MODIFIED` or `DELETED`.
        var type: String
        /// The object after the change.
        var object: JSONValue
    }

    /// One open watch.
    struct Watcher: Sendable {
        /// What it watches.
        var resource: APIResource
        /// Its `labelSelector`.
        var labels: LabelSelector
        /// Its `fieldSelector` (with the namespace).
        var fields: FieldSelector
        /// Where its lines go.
        var continuation: AsyncStream<[UInt8]>.Continuation
        /// The task that sends its bookmarks and ends it at its timeout.
        var timer: Task<Void, Never>?
    }

    /// The namespace the double serves.
    let namespace: String
    /// The one node's labels.
    let nodeLabels: [String: String]
    /// The one node's name.
    let nodeName: String
    /// How often watches that allow them get a bookmark.
    let bookmarkInterval: Duration
    /// How many changes are kept for watches that resume.
    let historyLimit: Int
    /// The Docker engine the pods run on.
    let docker: DockerClient
    /// When the namespace was made.
    let namespaceCreated = Timestamp.nowToTheSecond()
    /// The namespace's uid.
    let namespaceUID = UUID().uuidString.lowercased()

    /// The last resourceVersion given out.
    private(set) var revision = 1
    /// The Jobs, by name.
    var jobs: [String: JobRecord] = [:]
    /// The pods, by name.
    var pods: [String: PodRecord] = [:]
    /// ConfigMaps by name (not watched: no history).
    var configMaps: [String: ConfigMapRecord] = [:]
    /// The last changes, oldest first.
    private(set) var history: [HistoryEvent] = []
    /// A watch from a resourceVersion older than this gets 410 Gone.
    private(set) var historyFloor = 1
    /// The open watches, by id.
    private(set) var watchers: [Int: Watcher] = [:]
    private var nextWatcherID = 0
    private var tasks: [Int: Task<Void, Never>] = [:]
    private var nextTaskID = 0
    private var injected: (count: Int, status: Int) = (0, 500)
    private var recorded: [RecordedRequest] = []
    /// Set by ``shutdown()``: nothing new starts.
    private(set) var stopped = false

    /// A cluster running its pods on `docker`.
    init(namespace: String, nodeLabels: [String: String], bookmarkInterval: Duration, historyLimit: Int, docker: DockerClient) {
        self.namespace = namespace
        self.nodeLabels = nodeLabels
        self.nodeName = nodeLabels["kubernetes.io/hostname"] ?? "double-node"
        self.bookmarkInterval = bookmarkInterval
        self.historyLimit = max(1, historyLimit)
        self.docker = docker
    }

    // MARK: Changes

    /// Stores `pod` as changed by event `type` (`DELETED` removes it), tells the watchers, and
    /// returns the pod as served.
    @discardableResult
    func commit(_ pod: PodRecord, _ type: String = "MODIFIED") -> JSONValue {
        var pod = pod
        revision += 1
        pod.meta.resourceVersion = revision
        if type == "DELETED" { pods[pod.meta.name] = nil } else { pods[pod.meta.name] = pod }
        let object = pod.json(namespace: namespace)
        publish(HistoryEvent(revision: revision, resource: "pods", type: type, object: object))
        return object
    }

    /// Stores `job` as changed by event `type` (`DELETED` removes it), tells the watchers, and
    /// returns the Job as served.
    @discardableResult
    func commit(_ job: JobRecord, _ type: String = "MODIFIED") -> JSONValue {
        var job = job
        revision += 1
        job.meta.resourceVersion = revision
        if type == "DELETED" { jobs[job.meta.name] = nil } else { jobs[job.meta.name] = job }
        let object = job.json(namespace: namespace)
        publish(HistoryEvent(revision: revision, resource: "jobs", type: type, object: object))
        return object
    }

    /// The next resourceVersion, for an object no watch follows (a ConfigMap).
    func nextRevision() -> Int {
        revision += 1
        return revision
    }

    private func publish(_ event: HistoryEvent) {
        history.append(event)
        if history.count > historyLimit {
            let dropped = history.count - historyLimit
            historyFloor = history[dropped - 1].revision
            history.removeFirst(dropped)
        }
        let line = Self.line(type: event.type, object: event.object)
        for watcher in watchers.values where watcher.resource.plural == event.resource {
            if watcher.labels.matches(Self.labels(of: event.object)), watcher.fields.matches(event.object) {
                watcher.continuation.yield(line)
            }
        }
    }

    /// Forgets the history: a watch from any older resourceVersion gets 410 Gone.
    func expireHistory() {
        history = []
        historyFloor = revision
    }

    /// One line of a watch stream.
    static func line(type: String, object: JSONValue) -> [UInt8] {
        var bytes = JSONValue.object(["type": .string(type), "object": object]).serialized()
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// The labels of an object as served.
    static func labels(of object: JSONValue) -> [String: String] {
        (object["metadata"]?["labels"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }

    // MARK: Reads

    /// The objects of `resource` matching the selectors, as served (untyped: list items), by name.
    func list(_ resource: APIResource, labels: LabelSelector, fields: FieldSelector, typed: Bool = false) -> [JSONValue] {
        let objects: [JSONValue] = switch resource {
        case .jobs: jobs.keys.sorted().map { jobs[$0]!.json(namespace: namespace, typed: typed) }
        case .configMaps: configMaps.keys.sorted().map { configMaps[$0]!.json(namespace: namespace, typed: typed) }
        default: pods.keys.sorted().map { pods[$0]!.json(namespace: namespace, typed: typed) }
        }
        return objects.filter { labels.matches(Self.labels(of: $0)) && fields.matches($0) }
    }

    /// The `…List` object of the matching objects, with the current resourceVersion.
    func listObject(_ resource: APIResource, labels: LabelSelector, fields: FieldSelector) -> JSONValue {
        [
            "kind": .string(resource.listKind), "apiVersion": .string(resource.apiVersion),
            "metadata": ["resourceVersion": .string(String(revision))],
            "items": .array(list(resource, labels: labels, fields: fields)),
        ]
    }

    /// One object, or 404.
    func get(_ resource: APIResource, _ name: String) throws(APIStatus) -> JSONValue {
        switch resource {
        case .jobs:
            guard let job = jobs[name] else { throw APIStatus.notFound(.jobs, name) }
            return job.json(namespace: namespace)
        case .configMaps:
            guard let record = configMaps[name] else { throw APIStatus.notFound(.configMaps, name) }
            return record.json(namespace: namespace)
        default:
            guard let pod = pods[name] else { throw APIStatus.notFound(.pods, name) }
            return pod.json(namespace: namespace)
        }
    }

    /// The Namespace object.
    var namespaceObject: JSONValue {
        [
            "kind": "Namespace", "apiVersion": "v1",
            "metadata": [
                "name": .string(namespace), "uid": .string(namespaceUID), "resourceVersion": "1",
                "creationTimestamp": .string(namespaceCreated.rfc3339),
                "labels": ["kubernetes.io/metadata.name": .string(namespace)],
            ],
            "spec": ["finalizers": ["kubernetes"]],
            "status": ["phase": "Active"],
        ]
    }

    // MARK: Test controls

    /// Makes the next `count` requests fail with `status`.
    func injectFailures(_ count: Int, status: Int) {
        injected = (max(0, count), status)
    }

    /// The injected failure this request gets, if any.
    func takeInjectedFailure() -> APIStatus? {
        guard injected.count > 0 else { return nil }
        injected.count -= 1
        return APIStatus.injected(injected.status)
    }

    /// Notes a request that was answered.
    func record(_ request: RecordedRequest) {
        recorded.append(request)
    }

    /// Every request answered so far.
    var requests: [RecordedRequest] { recorded }

    // MARK: Tasks

    /// Runs `operation` as a task of the cluster, cancelled at shutdown.
    func spawn(_ operation: @escaping @Sendable (Cluster) async -> Void) {
        guard !stopped else { return }
        let id = nextTaskID
        nextTaskID += 1
        tasks[id] = Task {
            await operation(self)
            self.taskEnded(id)
        }
    }

    private func taskEnded(_ id: Int) {
        tasks[id] = nil
    }

    /// Runs `operation` after `delay`, unless the cluster stops first.
    func after(_ delay: Duration, _ operation: @escaping @Sendable (Cluster) async -> Void) {
        spawn { cluster in
            guard (try? await Task.sleep(for: delay)) != nil else { return }
            await operation(cluster)
        }
    }

    /// Ends every watch, stops the controller and kubelet tasks; returns the tasks still running.
    func shutdown() -> [Task<Void, Never>] {
        stopped = true
        for watcher in watchers.values {
            watcher.timer?.cancel()
            watcher.continuation.finish()
        }
        watchers = [:]
        let running = Array(tasks.values)
        tasks = [:]
        for task in running { task.cancel() }
        return running
    }

    // MARK: Watchers

    /// Registers a watcher; returns its id.
    func addWatcher(_ watcher: Watcher) -> Int {
        let id = nextWatcherID
        nextWatcherID += 1
        watchers[id] = watcher
        return id
    }

    /// Ends every open watch cleanly, as an API server does when a watch's time is up or it
    /// restarts; clients watch again from the last resourceVersion they saw.
    func endWatches() {
        for id in Array(watchers.keys) { removeWatcher(id) }
    }

    /// Ends and forgets watcher `id`.
    func removeWatcher(_ id: Int) {
        guard let watcher = watchers.removeValue(forKey: id) else { return }
        watcher.timer?.cancel()
        watcher.continuation.finish()
    }

    /// Sets the timer task of watcher `id`.
    func setTimer(_ id: Int, _ timer: Task<Void, Never>) {
        if watchers[id] == nil { timer.cancel() } else { watchers[id]?.timer = timer }
    }

    /// Sends watcher `id` a bookmark at the current resourceVersion.
    func bookmark(_ id: Int) {
        guard let watcher = watchers[id] else { return }
        let object: JSONValue = [
            "kind": .string(watcher.resource.kind), "apiVersion": .string(watcher.resource.apiVersion),
            "metadata": ["resourceVersion": .string(String(revision)), "creationTimestamp": .null],
        ]
        watcher.continuation.yield(Self.line(type: "BOOKMARK", object: object))
    }
}
