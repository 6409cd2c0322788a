public import BerthPluginKit

/// What a pod says about its attempt, read from its `status`.
public struct PodStatus: Sendable, Hashable {
    /// The attempt's status as Berth knows statuses.
    public var runtime: RuntimeStatus
    /// Set while the image cannot be pulled (`ErrImagePull`, `ImagePullBackOff`): the
    /// kubelet's message. The plugin turns it into `image_not_found` once its grace has passed,
    /// since Kubernetes itself keeps retrying forever.
    public var imagePullProblem: String?

    /// Container waiting reasons that mean the image cannot be had.
    static let pullReasons: Set<String> = ["ErrImagePull", "ImagePullBackOff"]
    /// Waiting reasons that will never get better by waiting.
    static let hopelessReasons: Set<String> = ["InvalidImageName", "CreateContainerConfigError", "CreateContainerError"]

    /// The status of `pod` (a `v1.Pod` object).
    public init(pod: JSONValue) {
        let status = pod["status"] ?? [:]
        let phase = status["phase"]?.stringValue ?? "Pending"
        let container = (status["containerStatuses"]?.arrayValue ?? [])
            .first { $0["name"]?.stringValue == JobTemplate.containerName }
        let image = container?["image"]?.stringValue ?? pod["spec"]?["containers"]?.arrayValue?.first?["image"]?.stringValue ?? "?"
        let state = container?["state"] ?? [:]
        imagePullProblem = nil

        if let terminated = state["terminated"] {
            let code = terminated["exitCode"]?.int64Value.flatMap { Int32(exactly: $0) }
            let reason = terminated["reason"]?.stringValue
            runtime = RuntimeStatus(
                state: .exited, exitCode: code, reason: reason == "Completed" || reason == "Error" ? nil : reason,
                startedAt: terminated["startedAt"]?.stringValue.flatMap(Timestamp.init(rfc3339:)),
                finishedAt: terminated["finishedAt"]?.stringValue.flatMap(Timestamp.init(rfc3339:)))
            return
        }
        if phase == "Failed" || phase == "Succeeded" {
            // Ended without its container ever running: evicted, deadline exceeded, deleted.
            let reason = [status["reason"]?.stringValue, status["message"]?.stringValue].compactMap { $0 }.joined(separator: ": ")
            runtime = RuntimeStatus(state: .failed, reason: reason.isEmpty ? "the pod \(phase.lowercased()) without running" : reason)
            return
        }
        if let running = state["running"] {
            runtime = RuntimeStatus(state: .running, startedAt: running["startedAt"]?.stringValue.flatMap(Timestamp.init(rfc3339:)))
            return
        }
        if let waiting = state["waiting"], let reason = waiting["reason"]?.stringValue {
            let message = waiting["message"]?.stringValue ?? reason
            if Self.pullReasons.contains(reason) {
                imagePullProblem = "image \(image) cannot be pulled: \(message)"
                runtime = RuntimeStatus(state: .created, reason: "\(reason): \(message)")
            } else if Self.hopelessReasons.contains(reason) {
                runtime = RuntimeStatus(
                    state: .failed, reason: "\(reason): \(message)",
                    errorCode: reason == "InvalidImageName" ? .imageNotFound : nil)
            } else {
                runtime = RuntimeStatus(state: .created, reason: "\(reason): \(message)")
            }
            return
        }
        let conditions = status["conditions"]?.arrayValue ?? []
        if let unscheduled = conditions.first(where: { $0["type"]?.stringValue == "PodScheduled" && $0["status"]?.stringValue == "False" }) {
            let reason = unscheduled["reason"]?.stringValue ?? "Unschedulable"
            runtime = RuntimeStatus(state: .created, reason: "\(reason): \(unscheduled["message"]?.stringValue ?? "waiting for a node")")
            return
        }
        runtime = RuntimeStatus(state: .created, reason: "pod \(phase.lowercased())")
    }
}
