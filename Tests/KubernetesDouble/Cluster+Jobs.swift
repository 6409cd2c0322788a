import BerthPluginKit
import Foundation

/// The Job controller: makes each Job's pod, counts how it ended, deletes as asked.
extension Cluster {
    /// Admits and stores a Job, makes its pod; returns the Job as created.
    func createJob(_ body: JSONValue, namespace requested: String) throws(APIStatus) -> JSONValue {
        guard requested == namespace else { throw APIStatus.notFound(.namespaces, requested) }
        let admission = JobAdmission(
            namespace: namespace, uid: UUID().uuidString.lowercased(), suffix: Self.randomSuffix(), now: .nowToTheSecond())
        let job = try admission.admit(body)
        guard jobs[job.meta.name] == nil else { throw APIStatus.alreadyExists(.jobs, job.meta.name) }
        let created = commit(job, "ADDED")
        startJob(job.meta.name)
        return created
    }

    /// Five characters as the API server's name generator picks them.
    static func randomSuffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet.randomElement()! })
    }

    /// Makes the Job's pod and arms its deadline.
    private func startJob(_ name: String) {
        guard var job = jobs[name], !stopped else { return }
        let now = Timestamp.nowToTheSecond()
        let prefix = String(name.prefix(58)) + "-"
        var candidate = prefix + Self.randomSuffix()
        while pods[candidate] != nil { candidate = prefix + Self.randomSuffix() }
        let podName = candidate
        let template = job.template
        let pod = PodRecord(
            meta: ObjectMeta(
                name: podName, generateName: prefix, uid: UUID().uuidString.lowercased(), creationTimestamp: now,
                labels: template.labels, annotations: template.annotations,
                ownerReferences: [[
                    "apiVersion": "batch/v1", "kind": "Job", "name": .string(name), "uid": .string(job.meta.uid),
                    "controller": true, "blockOwnerDeletion": true,
                ]]),
            spec: template.spec, container: template.container, qosClass: template.qosClass,
            owner: (name, job.meta.uid), nodeSelector: template.nodeSelector,
            terminationGracePeriodSeconds: template.terminationGracePeriodSeconds)
        commit(pod, "ADDED")
        job.synced = true
        job.startTime = now
        job.active = 1
        commit(job)
        admitPod(podName)

        let deadlines = [template.activeDeadlineSeconds, job.activeDeadlineSeconds].compactMap { $0 }
        if let seconds = deadlines.min() {
            let uid = pod.meta.uid
            after(.seconds(seconds)) { await $0.deadlineReached(podName, uid: uid) }
        }
    }

    /// The Job that owns `pod`, if it still exists.
    func owningJob(of pod: PodRecord) -> JobRecord? {
        guard let owner = pod.owner, let job = jobs[owner.name], job.meta.uid == owner.uid else { return nil }
        return job
    }

    /// Sets Job condition `type` as the Job controller writes it (with a probe time).
    private func setCondition(_ job: inout JobRecord, _ type: String, reason: String?, message: String?, at time: Timestamp) {
        job.conditions.set(type, true, reason: reason, message: message, at: time)
        if let index = job.conditions.firstIndex(where: { $0.type == type }) { job.conditions[index].lastProbeTime = time }
    }

    /// The pod's container is ready: the Job counts it.
    func jobPodReady(_ pod: PodRecord) {
        guard var job = owningJob(of: pod), !job.isFinished, job.ready == 0 else { return }
        job.ready = 1
        commit(job)
    }

    /// The pod ended (or went away before ending): the Job completes or fails.
    func jobPodFinished(_ pod: PodRecord) {
        guard var job = owningJob(of: pod), !job.isFinished, job.meta.deletionTimestamp == nil else { return }
        let now = Timestamp.nowToTheSecond()
        job.active = 0
        job.ready = 0
        if pod.phase == .succeeded {
            job.succeeded = 1
            job.completionTime = now
            setCondition(&job, "Complete", reason: nil, message: nil, at: now)
        } else {
            job.failed = 1
            if pod.deadlineExceeded {
                setCondition(&job, "Failed", reason: "DeadlineExceeded", message: "Job was active longer than specified deadline", at: now)
            } else {
                setCondition(&job, "Failed", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit", at: now)
            }
        }
        commit(job)
        if let ttl = job.ttlSecondsAfterFinished {
            let (name, uid) = (job.meta.name, job.meta.uid)
            after(.seconds(ttl)) { await $0.ttlExpired(name, uid: uid) }
        }
    }

    /// The TTL-after-finished controller deletes a finished Job and its pods (in the foreground).
    private func ttlExpired(_ name: String, uid: String) {
        guard let job = jobs[name], job.meta.uid == uid else { return }
        _ = try? deleteJob(name, namespace: namespace, options: DeleteOptions(propagationPolicy: "Foreground"))
    }

    /// Deletes a Job as `options` say (Orphan when they say nothing, as for `batch/v1` Jobs);
    /// returns the Job as last served.
    func deleteJob(_ name: String, namespace requested: String, options: DeleteOptions) throws(APIStatus) -> JSONValue {
        guard requested == namespace, var job = jobs[name] else { throw APIStatus.notFound(.jobs, name) }
        try options.check(.jobs, name, uid: job.meta.uid)
        let owned = pods.values.filter { owningJob(of: $0)?.meta.uid == job.meta.uid }.map(\.meta.name).sorted()
        switch options.propagationPolicy ?? "Orphan" {
        case "Orphan":
            for podName in owned {
                guard var pod = pods[podName] else { continue }
                pod.owner = nil
                pod.meta.ownerReferences = []
                commit(pod)
            }
            return commit(job, "DELETED")
        case "Background":
            let deleted = commit(job, "DELETED")
            collectConfigMaps(ownedBy: job.meta.uid)
            for podName in owned { beginPodDeletion(podName, grace: options.gracePeriodSeconds) }
            return deleted
        case "Foreground":
            guard job.meta.deletionTimestamp == nil else { return job.json(namespace: namespace) }
            job.meta.deletionTimestamp = .nowToTheSecond()
            job.meta.deletionGracePeriodSeconds = 0
            job.meta.finalizers = ["foregroundDeletion"]
            let marked = commit(job)
            for podName in owned { beginPodDeletion(podName, grace: options.gracePeriodSeconds) }
            finishForegroundDeletion(of: name)
            return marked
        case let other:
            throw APIStatus(
                code: 422, reason: "Invalid",
                message: "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"\(other)\": supported values: \"Foreground\", \"Background\", \"Orphan\"",
                details: ["kind": "DeleteOptions", "group": "meta.k8s.io"])
        }
    }

    /// Removes a Job being deleted in the foreground once its last pod is gone.
    func finishForegroundDeletion(of name: String) {
        guard let job = jobs[name], job.meta.deletionTimestamp != nil,
              !pods.values.contains(where: { owningJob(of: $0)?.meta.uid == job.meta.uid })
        else { return }
        commit(job, "DELETED")
        collectConfigMaps(ownedBy: job.meta.uid)
    }
}
