import BerthPluginKit
import KubernetesAPI
import Testing

/// Jobs as Berth writes them, pods and watch events as the API server sends them, and
/// `Status` answers as plugin errors.
@Suite("Kubernetes objects")
struct KubernetesModelTests {
    private let spec = ExecutionSpec(
        executionID: "6F9619FF-8B86-D011-B42D-00CF4FC964FF", attempt: 2, image: "127.0.0.1:5000/team/solver:3",
        command: ["/bin/solve"], args: ["--fast"], env: ["B": "2", "A": "1"], workingDir: "/work",
        labels: ["team": "solvers"], cpus: 0.5, memoryBytes: 64 * 1024 * 1024, pullPolicy: .always, timeoutSeconds: 120)

    @Test("an attempt becomes a Job with one never-restarted pod, Berth's labels on both, resources, deadline and TTL")
    func job() throws {
        let template = JobTemplate(
            namespace: "ci", ttlSecondsAfterFinished: 300, nodeSelector: ["gpu": "true"],
            tolerations: [["key": "gpu", "operator": "Exists", "effect": "NoSchedule"]], serviceAccountName: "runner",
            imagePullSecrets: ["registry"])
        let job = try template.job(spec, server: "berth-1")
        #expect(job["metadata"]?["name"]?.stringValue == "berth-6f9619ff-8b86-d011-b42d-00cf4fc964ff-2")
        #expect(job["metadata"]?["namespace"]?.stringValue == "ci")
        let labels = job["metadata"]?["labels"]
        #expect(labels?["berth.execution"]?.stringValue == spec.executionID)
        #expect(labels?["berth.attempt"]?.stringValue == "2")
        #expect(labels?["berth.server"]?.stringValue == "berth-1")
        #expect(labels?["team"]?.stringValue == "solvers")
        let jobSpec = try #require(job["spec"])
        #expect(jobSpec["backoffLimit"] == 0)
        #expect(jobSpec["activeDeadlineSeconds"] == 120)
        #expect(jobSpec["ttlSecondsAfterFinished"] == 300)
        #expect(jobSpec["template"]?["metadata"]?["labels"] == labels)
        let pod = try #require(jobSpec["template"]?["spec"])
        #expect(pod["restartPolicy"]?.stringValue == "Never")
        #expect(pod["automountServiceAccountToken"] == false)
        #expect(pod["nodeSelector"]?["gpu"]?.stringValue == "true")
        #expect(pod["tolerations"]?.arrayValue?.count == 1)
        #expect(pod["serviceAccountName"]?.stringValue == "runner")
        #expect(pod["imagePullSecrets"]?.arrayValue?.first?["name"]?.stringValue == "registry")
        let container = try #require(pod["containers"]?.arrayValue?.first)
        #expect(container["name"]?.stringValue == "main")
        #expect(container["image"]?.stringValue == spec.image)
        #expect(container["imagePullPolicy"]?.stringValue == "Always")
        #expect(container["command"] == ["/bin/solve"])
        #expect(container["args"] == ["--fast"])
        #expect(container["workingDir"]?.stringValue == "/work")
        #expect(container["env"] == [["name": "A", "value": "1"], ["name": "B", "value": "2"]])
        #expect(container["resources"]?["limits"]?["cpu"]?.stringValue == "500m")
        #expect(container["resources"]?["requests"]?["memory"]?.stringValue == "67108864")
    }

    @Test("a label Kubernetes would refuse is invalid_spec naming it")
    func badLabel() {
        var bad = spec
        bad.labels = ["note": "has spaces in it"]
        let error = #expect(throws: PluginError.self) { _ = try JobTemplate(namespace: "ci").job(bad, server: "s") }
        #expect(error?.code == .invalidSpec)
        #expect(error?.message.contains("note") == true)
    }

    private func pod(phase: String, container: JSONValue? = nil, conditions: [JSONValue] = []) -> JSONValue {
        var status: [String: JSONValue] = ["phase": .string(phase), "conditions": .array(conditions)]
        if let container { status["containerStatuses"] = [container] }
        return ["spec": ["containers": [["name": "main", "image": "team/solver:3"]]], "status": .object(status)]
    }

    @Test("pod states map to attempt states: waiting, running, exited with code, OOMKilled, pull problems, unschedulable")
    func podStates() {
        let unschedulable = PodStatus(pod: pod(phase: "Pending", conditions: [[
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
        ]]))
        #expect(unschedulable.runtime.state == .created)
        #expect(unschedulable.runtime.reason?.contains("didn't match Pod's node affinity") == true)

        let pulling = PodStatus(pod: pod(phase: "Pending", container: [
            "name": "main", "image": "team/solver:3",
            "state": ["waiting": ["reason": "ImagePullBackOff", "message": "Back-off pulling image \"team/solver:3\""]],
        ]))
        #expect(pulling.runtime.state == .created)
        #expect(pulling.imagePullProblem?.contains("team/solver:3") == true)

        let invalid = PodStatus(pod: pod(phase: "Pending", container: [
            "name": "main", "state": ["waiting": ["reason": "InvalidImageName", "message": "bad"]],
        ]))
        #expect(invalid.runtime.state == .failed)
        #expect(invalid.runtime.errorCode == .imageNotFound)

        let running = PodStatus(pod: pod(phase: "Running", container: [
            "name": "main", "state": ["running": ["startedAt": "2026-11-25T10:00:00Z"]],
        ]))
        #expect(running.runtime.state == .running)
        #expect(running.runtime.startedAt == Timestamp(rfc3339: "2026-11-25T10:00:00Z"))

        let exited = PodStatus(pod: pod(phase: "Failed", container: [
            "name": "main", "state": ["terminated": [
                "exitCode": 3, "reason": "Error", "startedAt": "2026-11-25T10:00:00Z", "finishedAt": "2026-11-25T10:00:05Z",
            ]],
        ]))
        #expect(exited.runtime.state == .exited)
        #expect(exited.runtime.exitCode == 3)
        #expect(exited.runtime.reason == nil)
        #expect(exited.runtime.finishedAt == Timestamp(rfc3339: "2026-11-25T10:00:05Z"))

        let oom = PodStatus(pod: pod(phase: "Failed", container: [
            "name": "main", "state": ["terminated": ["exitCode": 137, "reason": "OOMKilled"]],
        ]))
        #expect(oom.runtime.exitCode == 137)
        #expect(oom.runtime.reason == "OOMKilled")

        let deadline: JSONValue = ["status": ["phase": "Failed", "reason": "DeadlineExceeded", "message": "Pod was active on the node longer than the specified deadline"]]
        let exceeded = PodStatus(pod: deadline)
        #expect(exceeded.runtime.state == .failed)
        #expect(exceeded.runtime.reason?.hasPrefix("DeadlineExceeded") == true)
    }

    @Test("watch lines: objects, bookmarks, 410 Gone and other errors")
    func watchEvents() {
        let added = WatchEvent(line: Array(#"{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"p","resourceVersion":"12"}}}"#.utf8))
        guard case .object(let type, let object)? = added else { Issue.record("not an object event"); return }
        #expect(type == "ADDED")
        #expect(object["metadata"]?["resourceVersion"]?.stringValue == "12")
        #expect(WatchEvent(line: Array(#"{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"40"}}}"#.utf8))
            == .bookmark(resourceVersion: "40"))
        let gone = WatchEvent(line: Array(#"{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old resource version: 5 (40)"}}"#.utf8))
        #expect(gone == .expired(message: "too old resource version: 5 (40)"))
        #expect(WatchEvent(line: Array("not json".utf8)) == nil)
    }

    @Test("log lines keep the kubelet's nanosecond timestamps and the text")
    func logLines() {
        var lines = KubernetesLogLines(stream: .stdout)
        let first = lines.feed(Array("2026-11-25T10:00:00.123456789Z hello\n2026-11-25T10:00:01.000000001Z wor".utf8))
        #expect(first.map(\.text) == ["hello\n"])
        #expect(first.first?.timestamp == Timestamp(rfc3339: "2026-11-25T10:00:00.123456789Z"))
        let second = lines.feed(Array("ld\n".utf8))
        #expect(second.map(\.text) == ["world\n"])
        _ = lines.feed(Array("2026-11-25T10:00:02Z no newline".utf8))
        #expect(lines.finish().map(\.text) == ["no newline"])
    }

    @Test("Status answers become plugin errors naming the verb and resource, and the fields of a 422")
    func statusErrors() {
        let forbidden = KubernetesFailure.error(
            status: 403,
            body: Array(#"{"kind":"Status","status":"Failure","message":"jobs.batch is forbidden: User \"x\" cannot create resource \"jobs\"","reason":"Forbidden","code":403}"#.utf8),
            verb: "create", resource: "jobs in namespace ci", server: "https://k8s:6443")
        #expect(forbidden.code == .permissionDenied)
        #expect(forbidden.message.contains("create jobs in namespace ci"))
        #expect(forbidden.message.contains("cannot create resource"))
        let invalid = KubernetesFailure.error(
            status: 422,
            body: Array(#"{"kind":"Status","code":422,"message":"Job.batch \"x\" is invalid","details":{"causes":[{"reason":"FieldValueInvalid","message":"Invalid value: \"-1\"","field":"spec.template.spec.activeDeadlineSeconds"}]}}"#.utf8),
            verb: "create", resource: "jobs", server: "s")
        #expect(invalid.code == .invalidSpec)
        #expect(invalid.message.contains("spec.template.spec.activeDeadlineSeconds"))
        #expect(KubernetesFailure.error(status: 401, body: [], verb: "list", resource: "pods", server: "s").code == .permissionDenied)
        #expect(KubernetesFailure.error(status: 404, body: [], verb: "get", resource: "jobs/x", server: "s").code == .notFound)
        let busy = KubernetesFailure.error(status: 503, body: [], verb: "list", resource: "pods", server: "s")
        #expect(busy.code == .unavailable)
        #expect(busy.retryable)
    }
}
