import BerthPluginKit

/// A Job the double stores, with what its controller knows.
struct JobRecord: Sendable {
    /// The Job's metadata.
    var meta: ObjectMeta
    /// The defaulted spec, as served.
    var spec: JSONValue
    /// The pod template.
    var template: PodTemplate
    /// `spec.activeDeadlineSeconds`.
    var activeDeadlineSeconds: Int?
    /// `spec.ttlSecondsAfterFinished`.
    var ttlSecondsAfterFinished: Int?

    /// Whether the controller has written a status yet.
    var synced = false
    /// `status.startTime`.
    var startTime: Timestamp?
    /// `status.completionTime` (success only, as in Kubernetes).
    var completionTime: Timestamp?
    /// `status.active`.
    var active = 0
    /// `status.succeeded`.
    var succeeded = 0
    /// `status.failed`.
    var failed = 0
    /// `status.ready`.
    var ready = 0
    /// `status.conditions`.
    var conditions: [ObjectCondition] = []

    /// Whether it has a Complete or Failed condition.
    var isFinished: Bool { conditions.contains { ($0.type == "Complete" || $0.type == "Failed") && $0.status } }

    /// The Job as the API serves it; `typed`: with `kind` and `apiVersion` (not in list items).
    func json(namespace: String, typed: Bool = true) -> JSONValue {
        var status: [String: JSONValue] = [:]
        if synced {
            status["ready"] = .number(Double(ready))
            status["terminating"] = 0
            status["uncountedTerminatedPods"] = [:]
            if active > 0 { status["active"] = .number(Double(active)) }
            if succeeded > 0 { status["succeeded"] = .number(Double(succeeded)) }
            if failed > 0 { status["failed"] = .number(Double(failed)) }
            if let startTime { status["startTime"] = .string(startTime.rfc3339) }
            if let completionTime { status["completionTime"] = .string(completionTime.rfc3339) }
            if !conditions.isEmpty { status["conditions"] = .array(conditions.map(\.json)) }
        }
        var object: [String: JSONValue] = ["metadata": meta.json(namespace: namespace), "spec": spec, "status": .object(status)]
        if typed {
            object["kind"] = "Job"
            object["apiVersion"] = "batch/v1"
        }
        return .object(object)
    }
}
