import BerthPluginKit

/// The `metadata` of an object the double stores.
struct ObjectMeta: Sendable {
    /// The name.
    var name: String
    /// The prefix the name was generated from, if it was.
    var generateName: String?
    /// The uid, new for each object.
    var uid: String
    /// The object's resourceVersion: the cluster's counter when it last changed.
    var resourceVersion = 0
    /// When it was created, to the second, as the API server keeps it.
    var creationTimestamp: Timestamp
    /// Labels.
    var labels: [String: String]
    /// Annotations.
    var annotations: [String: String]
    /// `generation`, for objects that have one (Jobs).
    var generation: Int?
    /// Owners (a pod's Job), as the API writes them.
    var ownerReferences: [JSONValue] = []
    /// Finalizers (`foregroundDeletion`).
    var finalizers: [String] = []
    /// Set once a graceful deletion has begun.
    var deletionTimestamp: Timestamp?
    /// The grace of that deletion.
    var deletionGracePeriodSeconds: Int?

    /// The `metadata` object, in `namespace`.
    func json(namespace: String) -> JSONValue {
        var meta: [String: JSONValue] = [
            "name": .string(name), "namespace": .string(namespace), "uid": .string(uid),
            "resourceVersion": .string(String(resourceVersion)), "creationTimestamp": .string(creationTimestamp.rfc3339),
        ]
        if let generateName { meta["generateName"] = .string(generateName) }
        if !labels.isEmpty { meta["labels"] = JSONValue(labels) }
        if !annotations.isEmpty { meta["annotations"] = JSONValue(annotations) }
        if let generation { meta["generation"] = .number(Double(generation)) }
        if !ownerReferences.isEmpty { meta["ownerReferences"] = .array(ownerReferences) }
        if !finalizers.isEmpty { meta["finalizers"] = JSONValue(finalizers) }
        if let deletionTimestamp { meta["deletionTimestamp"] = .string(deletionTimestamp.rfc3339) }
        if let deletionGracePeriodSeconds { meta["deletionGracePeriodSeconds"] = .number(Double(deletionGracePeriodSeconds)) }
        return .object(meta)
    }
}

extension Timestamp {
    /// Now, to the second: API object times (`metav1.Time`) have no fraction.
    static func nowToTheSecond() -> Timestamp {
        Timestamp.now().truncatedToSecond
    }

    /// This time without its fraction of a second.
    var truncatedToSecond: Timestamp {
        Timestamp(nanosecondsSinceEpoch: nanosecondsSinceEpoch - ((nanosecondsSinceEpoch % 1_000_000_000) + 1_000_000_000) % 1_000_000_000)
    }
}

/// A condition of a pod or a Job, as the API writes it.
struct ObjectCondition: Sendable, Hashable {
    /// `PodScheduled`, `Ready`, `Complete`, `Failed`.
    var type: String
    /// True or False.
    var status: Bool
    /// Why, in one word.
    var reason: String?
    /// Why, in words.
    var message: String?
    /// When `status` last changed.
    var lastTransitionTime: Timestamp
    /// When it was last checked (Jobs write it; pods leave it null).
    var lastProbeTime: Timestamp?

    /// The condition object.
    var json: JSONValue {
        var object: [String: JSONValue] = [
            "type": .string(type), "status": status ? "True" : "False",
            "lastTransitionTime": .string(lastTransitionTime.rfc3339),
            "lastProbeTime": lastProbeTime.map { .string($0.rfc3339) } ?? .null,
        ]
        if let reason { object["reason"] = .string(reason) }
        if let message { object["message"] = .string(message) }
        return .object(object)
    }
}

extension [ObjectCondition] {
    /// Sets condition `type`, keeping its transition time when its status does not change, and
    /// keeping the order conditions were first set in.
    mutating func set(_ type: String, _ status: Bool, reason: String? = nil, message: String? = nil, at time: Timestamp) {
        if let index = firstIndex(where: { $0.type == type }) {
            let changed = self[index].status != status
            self[index].status = status
            self[index].reason = reason
            self[index].message = message
            if changed { self[index].lastTransitionTime = time }
        } else {
            append(ObjectCondition(type: type, status: status, reason: reason, message: message, lastTransitionTime: time))
        }
    }
}
