import BerthPluginKit

/// The scheduler and the kubelet: each pod's way from Pending to its end, driven by what the
/// Docker engine reports, and its deletion.
extension Cluster {
    /// The scheduler's message when the node's labels do not satisfy the pod's nodeSelector.
    static let unschedulableMessage = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    /// The kubelet's message for a pod past its activeDeadlineSeconds.
    static let deadlineMessage = "Pod was active on the node longer than the specified deadline"

    /// The scheduler binds a new pod to the node (or finds it unschedulable), then the kubelet
    /// takes it.
    func admitPod(_ name: String) {
        guard var pod = pods[name] else { return }
        let now = Timestamp.nowToTheSecond()
        guard pod.nodeSelector.allSatisfy({ nodeLabels[$0.key] == $0.value }) else {
            pod.conditions.set("PodScheduled", false, reason: "Unschedulable", message: Self.unschedulableMessage, at: now)
            commit(pod)
            return
        }
        pod.spec["nodeName"] = .string(nodeName)
        pod.conditions.set("PodScheduled", true, at: now)
        commit(pod)

        pod = pods[name]!
        pod.startTime = now
        pod.containerState = .waiting(reason: "ContainerCreating", message: nil)
        pod.conditions.set("PodReadyToStartContainers", true, at: now)
        pod.conditions.set("Initialized", true, at: now)
        let unready = "containers with unready status: [\(pod.container.name)]"
        pod.conditions.set("Ready", false, reason: "ContainersNotReady", message: unready, at: now)
        pod.conditions.set("ContainersReady", false, reason: "ContainersNotReady", message: unready, at: now)
        commit(pod)
        let uid = pod.meta.uid
        spawn { cluster in await Kubelet(cluster: cluster, docker: cluster.docker, pod: name, uid: uid).run() }
    }

    /// The pod, when the kubelet should still work on it: it exists with this uid, is not being
    /// deleted, has not ended, and the cluster runs.
    func wantedPod(_ name: String, uid: String) -> PodRecord? {
        guard !stopped, let pod = pods[name], pod.meta.uid == uid, pod.meta.deletionTimestamp == nil, !pod.isTerminal,
              !pod.deadlineExceeded
        else { return nil }
        return pod
    }

    /// The container waits for `reason`; returns whether the kubelet should go on.
    func setWaiting(_ name: String, uid: String, reason: String, message: String?) -> Bool {
        guard var pod = wantedPod(name, uid: uid) else { return false }
        if case .waiting(let current, let currentMessage) = pod.containerState, current == reason, currentMessage == message {
            return true
        }
        pod.containerState = .waiting(reason: reason, message: message)
        commit(pod)
        return true
    }

    /// The container exists; returns whether the kubelet should start it (else it removes it).
    func containerCreated(_ name: String, uid: String, id: String) -> Bool {
        guard var pod = wantedPod(name, uid: uid) else { return false }
        pod.containerID = id
        pods[name] = pod
        return true
    }

    /// The engine refused to start the container: it ends as `StartError`.
    func containerStartFailed(_ name: String, uid: String, id: String, message: String) {
        guard var pod = pods[name], pod.meta.uid == uid, pod.containerID == id, !pod.isTerminated else { return }
        pod.containerState = .terminated(PodRecord.Termination(
            exitCode: 128, reason: "StartError", message: message, startedAt: Timestamp(nanosecondsSinceEpoch: 0),
            finishedAt: .nowToTheSecond()))
        end(&pod)
    }

    /// The container runs.
    func containerStarted(_ name: String, uid: String, id: String, inspect: JSONValue?) {
        guard var pod = pods[name], pod.meta.uid == uid, pod.containerID == id, !pod.isTerminated else { return }
        let state = inspect?["State"]
        let now = Timestamp.nowToTheSecond()
        let startedAt = state?["StartedAt"]?.stringValue.flatMap(Timestamp.init(rfc3339:))?.truncatedToSecond ?? now
        pod.containerState = .running(startedAt: startedAt)
        pod.started = true
        pod.ready = true
        pod.imageID = inspect?["Image"]?.stringValue ?? ""
        pod.phase = .running
        pod.conditions.set("Ready", true, at: now)
        pod.conditions.set("ContainersReady", true, at: now)
        commit(pod)
        jobPodReady(pod)
        if state?["Running"]?.boolValue == false || pod.diedBeforeRunning {
            spawn { await $0.collectEnd(name, uid: uid, id: id) }
        } else if let deletion = pod.meta.deletionTimestamp {
            let grace = max(0, Int(deletion.secondsSinceEpoch - Timestamp.now().secondsSinceEpoch))
            spawn { await $0.docker.stop(id, grace: grace) }
        } else if pod.deadlineExceeded {
            spawn { await $0.docker.kill(id) }
        }
    }

    /// The engine says container `id` died (its `die` event).
    func containerDied(_ id: String) {
        guard let pod = pods.values.first(where: { $0.containerID == id }), !pod.isTerminated else { return }
        if pod.isRunning {
            let (name, uid) = (pod.meta.name, pod.meta.uid)
            spawn { await $0.collectEnd(name, uid: uid, id: id) }
        } else {
            pods[pod.meta.name]?.diedBeforeRunning = true
        }
    }

    /// Reads how container `id` ended from the engine and records it.
    ///
    /// Docker 20.10 can report a container killed for memory (exit 137) before it sets
    /// `OOMKilled`, which a kubelet reading containerd never sees; so a 137 without the flag is
    /// read again for up to five seconds (a loaded machine) before it counts as a plain kill.
    private func collectEnd(_ name: String, uid: String, id: String) async {
        var inspect = try? await docker.inspect(id)
        for _ in 0..<50 where inspect?["State"]?["ExitCode"]?.int64Value == 137 && inspect?["State"]?["OOMKilled"]?.boolValue != true {
            try? await Task.sleep(for: .milliseconds(100))
            inspect = (try? await docker.inspect(id)) ?? inspect
        }
        containerEnded(name, uid: uid, id: id, inspect: inspect)
    }

    /// The container ended as `inspect` says.
    private func containerEnded(_ name: String, uid: String, id: String, inspect: JSONValue?) {
        guard var pod = pods[name], pod.meta.uid == uid, pod.containerID == id, !pod.isTerminated else { return }
        let state = inspect?["State"]
        let exitCode = state?["ExitCode"]?.int64Value.map { Int($0) } ?? 137
        let startedAt: Timestamp? = if case .running(let startedAt) = pod.containerState { startedAt } else { nil }
        // Killed (137) with a memory limit while the double neither deleted it nor passed its
        // deadline: only the kernel's OOM killer sends that SIGKILL here, even when Docker has
        // not (yet) set `OOMKilled` — a kubelet reading containerd always knows.
        let oomKilled = state?["OOMKilled"]?.boolValue == true
            || (exitCode == 137 && pod.container.memoryLimit != nil && pod.meta.deletionTimestamp == nil && !pod.deadlineExceeded)
        let reason = oomKilled ? "OOMKilled" : exitCode == 0 ? "Completed" : "Error"
        let finishedAt = state?["FinishedAt"]?.stringValue.flatMap(Timestamp.init(rfc3339:))?.truncatedToSecond ?? .nowToTheSecond()
        pod.containerState = .terminated(PodRecord.Termination(
            exitCode: exitCode, reason: reason, message: nil, startedAt: startedAt, finishedAt: finishedAt))
        end(&pod)
    }

    /// Records the end of `pod` (its container terminated, or it never ran): phase, reason,
    /// conditions; tells the Job; finishes a deletion in progress.
    private func end(_ pod: inout PodRecord) {
        let now = Timestamp.nowToTheSecond()
        var succeeded = false
        if case .terminated(let end) = pod.containerState { succeeded = end.exitCode == 0 }
        pod.phase = succeeded && !pod.deadlineExceeded ? .succeeded : .failed
        if pod.deadlineExceeded {
            pod.reason = "DeadlineExceeded"
            pod.message = Self.deadlineMessage
        }
        pod.ready = false
        pod.started = false
        if pod.startTime != nil {
            let reason = pod.deadlineExceeded ? "PodFailed" : "PodCompleted"
            pod.conditions.set("PodReadyToStartContainers", false, at: now)
            pod.conditions.set("Ready", false, reason: reason, at: now)
            pod.conditions.set("ContainersReady", false, reason: reason, at: now)
        }
        commit(pod)
        jobPodFinished(pod)
        if pod.meta.deletionTimestamp != nil { removePod(pod.meta.name) }
    }

    /// The pod's activeDeadlineSeconds (or its Job's) has passed.
    func deadlineReached(_ name: String, uid: String) {
        guard var pod = pods[name], pod.meta.uid == uid, !pod.isTerminal, pod.meta.deletionTimestamp == nil else { return }
        pod.deadlineExceeded = true
        if let id = pod.containerID, !pod.isTerminated {
            // The kubelet kills it; its end is recorded when the engine reports it.
            pods[name] = pod
            if pod.isRunning { spawn { await $0.docker.kill(id) } }
            return
        }
        end(&pod)
    }

    /// Deletes a pod as asked; returns it as served after the request.
    func deletePod(_ name: String, namespace requested: String, options: DeleteOptions) throws(APIStatus) -> JSONValue {
        guard requested == namespace, let pod = pods[name] else { throw APIStatus.notFound(.pods, name) }
        try options.check(.pods, name, uid: pod.meta.uid)
        return beginPodDeletion(name, grace: options.gracePeriodSeconds)
    }

    /// Starts deleting a pod: at once when `grace` is 0, when it is not scheduled, or when it
    /// has ended; else gracefully (the container is stopped with that grace, its end recorded,
    /// then the pod removed).
    @discardableResult
    func beginPodDeletion(_ name: String, grace requested: Int?) -> JSONValue {
        guard var pod = pods[name] else { return .null }
        let grace = pod.nodeName == nil || pod.isTerminal ? 0 : max(0, requested ?? pod.terminationGracePeriodSeconds)
        if let current = pod.meta.deletionGracePeriodSeconds, current <= grace {
            return pod.json(namespace: namespace)
        }
        guard grace > 0 else {
            if let id = pod.containerID, pod.isRunning { spawn { await $0.docker.kill(id) } }
            return removePod(name)
        }
        pod.meta.deletionTimestamp = Timestamp.nowToTheSecond().adding(seconds: Double(grace))
        pod.meta.deletionGracePeriodSeconds = grace
        let served = commit(pod)
        if let id = pod.containerID {
            // A container still starting is stopped once its start is recorded.
            if pod.isRunning { spawn { await $0.docker.stop(id, grace: grace) } }
        } else {
            removePod(name)
        }
        return served
    }

    /// Removes a pod (the DELETED event) and its container; a Job that had not ended counts it
    /// as failed.
    @discardableResult
    func removePod(_ name: String) -> JSONValue {
        guard let pod = pods[name] else { return .null }
        let removed = commit(pod, "DELETED")
        if let id = pod.containerID { spawn { await $0.docker.remove(id) } }
        if !pod.isTerminal {
            var failed = pod
            failed.phase = .failed
            jobPodFinished(failed)
        }
        if let owner = pod.owner { finishForegroundDeletion(of: owner.name) }
        return removed
    }

    /// The Docker container whose logs `GET .../pods/{name}/log` reads, or the 400 the kubelet
    /// answers while there is none.
    func logContainer(_ name: String, namespace requested: String, container: String?, previous: Bool) throws(APIStatus) -> String {
        guard requested == namespace, let pod = pods[name] else { throw APIStatus.notFound(.pods, name) }
        let containerName = pod.container.name
        if let container, container != containerName {
            throw APIStatus.badRequest("container \(container) is not valid for pod \(name)")
        }
        if previous {
            throw APIStatus.badRequest("previous terminated container \"\(containerName)\" in pod \"\(name)\" not found")
        }
        guard pod.nodeName != nil else { throw APIStatus.badRequest("pod \(name) does not have a host assigned") }
        let prefix = "container \"\(containerName)\" in pod \"\(name)\""
        switch pod.containerState {
        case .waiting(let reason, _):
            let why = switch reason {
            case "ErrImagePull": "image can't be pulled"
            case "ImagePullBackOff": "trying and failing to pull image"
            default: reason
            }
            throw APIStatus.badRequest("\(prefix) is waiting to start: \(why)")
        case .running, .terminated:
            guard let id = pod.containerID else { throw APIStatus.badRequest("\(prefix) is terminated") }
            return id
        case nil:
            throw APIStatus.badRequest("\(prefix) is waiting to start - no logs yet")
        }
    }
}
