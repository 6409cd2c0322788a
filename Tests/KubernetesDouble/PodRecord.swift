import BerthPluginKit

/// A pod the double stores, with what its kubelet knows about its one container.
struct PodRecord: Sendable {
    /// `status.phase`.
    enum Phase: String, Sendable {
        case pending = "Pending", running = "Running", succeeded = "Succeeded", failed = "Failed"
    }

    /// How a container ended.
    struct Termination: Sendable {
        /// The exit code.
        var exitCode: Int
        /// `Completed`, `Error`, `OOMKilled`, `StartError`.
        var reason: String
        /// The runtime's message, if any.
        var message: String?
        /// When it started, if it did.
        var startedAt: Timestamp?
        /// When it ended.
        var finishedAt: Timestamp
    }

    /// `state` of the container's status.
    enum ContainerState: Sendable {
        case waiting(reason: String, message: String?)
        case running(startedAt: Timestamp)
        case terminated(Termination)
    }

    /// The pod's metadata.
    var meta: ObjectMeta
    /// The pod's spec as stored (`nodeName` added once scheduled).
    var spec: [String: JSONValue]
    /// The container the double runs.
    var container: ContainerSpec
    /// `status.qosClass`.
    var qosClass: String
    /// The Job that owns the pod (name and uid); nil once orphaned.
    var owner: (name: String, uid: String)?
    /// `spec.nodeSelector`.
    var nodeSelector: [String: String]
    /// `spec.terminationGracePeriodSeconds`.
    var terminationGracePeriodSeconds: Int

    /// `status.phase`.
    var phase: Phase = .pending
    /// `status.conditions`.
    var conditions: [ObjectCondition] = []
    /// `status.startTime`: when the kubelet took the pod.
    var startTime: Timestamp?
    /// `status.reason` (`DeadlineExceeded`).
    var reason: String?
    /// `status.message`.
    var message: String?
    /// The container's state; nil before the kubelet has reported it.
    var containerState: ContainerState?
    /// The Docker container's id, once created.
    var containerID: String?
    /// The image's id, once the container runs.
    var imageID = ""
    /// Whether the container is ready (it runs; the double has no probes).
    var ready = false
    /// Whether the container has started.
    var started = false

    /// The deadline passed: the pod fails with `DeadlineExceeded` (not on the wire until then).
    var deadlineExceeded = false
    /// The container's `die` event came before its start was recorded.
    var diedBeforeRunning = false

    /// Succeeded or Failed.
    var isTerminal: Bool { phase == .succeeded || phase == .failed }
    /// Whether the container is running.
    var isRunning: Bool {
        if case .running = containerState { return true }
        return false
    }
    /// Whether the container has ended.
    var isTerminated: Bool {
        if case .terminated = containerState { return true }
        return false
    }
    /// The node, once scheduled.
    var nodeName: String? { spec["nodeName"]?.stringValue }

    /// The value of `fieldRef.fieldPath` `path`, nil when the double does not know it.
    func fieldValue(_ path: String, namespace: String) -> String? {
        switch path {
        case "metadata.name": return meta.name
        case "metadata.namespace": return namespace
        case "metadata.uid": return meta.uid
        case "spec.nodeName": return nodeName ?? ""
        case "spec.serviceAccountName": return spec["serviceAccountName"]?.stringValue ?? ""
        case "status.hostIP", "status.hostIPs": return "127.0.0.1"
        case "status.podIP", "status.podIPs": return ""
        default:
            for (prefix, map) in [("metadata.labels", meta.labels), ("metadata.annotations", meta.annotations)]
            where path.hasPrefix(prefix + "['") && path.hasSuffix("']") {
                return map[String(path.dropFirst(prefix.count + 2).dropLast(2))] ?? ""
            }
            return nil
        }
    }

    /// The order the kubelet writes conditions in.
    private static let conditionOrder = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]

    /// The pod as the API serves it; `typed`: with `kind` and `apiVersion` (not in list items).
    func json(namespace: String, typed: Bool = true) -> JSONValue {
        var status: [String: JSONValue] = ["phase": .string(phase.rawValue), "qosClass": .string(qosClass)]
        let ordered = conditions.sorted {
            (Self.conditionOrder.firstIndex(of: $0.type) ?? 99) < (Self.conditionOrder.firstIndex(of: $1.type) ?? 99)
        }
        if !ordered.isEmpty { status["conditions"] = .array(ordered.map(\.json)) }
        if let startTime {
            status["startTime"] = .string(startTime.rfc3339)
            status["hostIP"] = "127.0.0.1"
            status["hostIPs"] = [["ip": "127.0.0.1"]]
        }
        if let reason { status["reason"] = .string(reason) }
        if let message { status["message"] = .string(message) }
        if let containerState { status["containerStatuses"] = [containerStatus(containerState)] }
        var object: [String: JSONValue] = [
            "metadata": meta.json(namespace: namespace), "spec": .object(spec), "status": .object(status),
        ]
        if typed {
            object["kind"] = "Pod"
            object["apiVersion"] = "v1"
        }
        return .object(object)
    }

    private func containerStatus(_ state: ContainerState) -> JSONValue {
        var status: [String: JSONValue] = [
            "name": .string(container.name), "image": .string(container.image), "imageID": .string(imageID),
            "ready": .bool(ready), "restartCount": 0, "started": .bool(started), "lastState": [:],
        ]
        let dockerID = containerID.map { "docker://\($0)" }
        switch state {
        case .waiting(let reason, let message):
            var waiting: [String: JSONValue] = ["reason": .string(reason)]
            if let message { waiting["message"] = .string(message) }
            status["state"] = ["waiting": .object(waiting)]
        case .running(let startedAt):
            status["state"] = ["running": ["startedAt": .string(startedAt.rfc3339)]]
            if let dockerID { status["containerID"] = .string(dockerID) }
        case .terminated(let end):
            var terminated: [String: JSONValue] = [
                "exitCode": .number(Double(end.exitCode)), "reason": .string(end.reason),
                "finishedAt": .string(end.finishedAt.rfc3339),
                "startedAt": end.startedAt.map { .string($0.rfc3339) } ?? .null,
            ]
            if let message = end.message { terminated["message"] = .string(message) }
            if let dockerID {
                terminated["containerID"] = .string(dockerID)
                status["containerID"] = .string(dockerID)
            }
            status["state"] = ["terminated": .object(terminated)]
        }
        return .object(status)
    }
}
