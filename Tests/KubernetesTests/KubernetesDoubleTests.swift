import BerthHTTP
import BerthPluginKit
import BerthTestSupport
import CurlHTTP
import Foundation
import KubernetesAPI
import KubernetesDouble
import Testing

/// The Kubernetes API server double itself, over real HTTPS with libcurl: authentication, the
/// wire format of objects, errors, watches and logs, and pods that really run on the test
/// Docker engine.
@Suite("Kubernetes API server double", .serialized)
struct KubernetesDoubleTests {
    /// Why a watch did not give what a test waited for.
    struct WatchTimeout: Error, CustomStringConvertible {
        let events: [JSONValue]
        var description: String { "the watch did not give what was expected in time; got \(events.map(\.jsonText))" }
    }

    private static let jobs = "/apis/batch/v1/namespaces/berth-test/jobs"
    private static let pods = "/api/v1/namespaces/berth-test/pods"

    /// A client of the double's token listener, and the double; the double is stopped afterwards.
    private func withDouble(
        nodeLabels: [String: String] = ["kubernetes.io/hostname": "double-node"],
        _ body: (KubernetesDouble, Client) async throws -> Void
    ) async throws {
        let double = try await KubernetesDouble.start(
            dockerSocket: try TestEnvironment.dockerSocket(), nodeLabels: nodeLabels, bookmarkInterval: .milliseconds(300))
        do {
            try await body(double, Client(double: double, token: double.token))
        } catch {
            await double.stop()
            throw error
        }
        await double.stop()
        #expect(try await double.containerCount == 0)
    }

    /// Requests to the token listener with one token.
    struct Client {
        let transport: CurlTransport
        let token: String?

        init(double: KubernetesDouble, token: String?) {
            transport = CurlTransport(endpoint: .url(double.tokenURL), tls: CurlTLS(certificateAuthorityPEM: double.caPEM))
            self.token = token
        }

        var headers: [String: String] {
            token.map { ["Authorization": "Bearer \($0)", "Accept": "application/json"] } ?? [:]
        }

        func send(_ method: String, _ path: String, json: JSONValue? = nil) async throws -> HTTPResponse {
            try await transport.send(HTTPRequest(method: method, path: path, headers: headers, body: json?.serialized(), timeout: 10))
        }

        func json(_ method: String, _ path: String, _ body: JSONValue? = nil, expect status: Int = 200) async throws -> JSONValue {
            let response = try await send(method, path, json: body)
            #expect(response.status == status, "\(method) \(path): \(response.text)")
            return try response.json()
        }

        /// The events of a watch at `path` until `done` says they are enough (or the stream ends).
        func watch(
            _ path: String, timeout: Duration = .seconds(20), until done: @escaping @Sendable ([JSONValue]) -> Bool
        ) async throws -> [JSONValue] {
            let request = HTTPRequest(method: "GET", path: path, headers: headers)
            let transport = self.transport
            return try await withThrowingTaskGroup(of: [JSONValue]?.self) { group in
                let seen = EventLog()
                group.addTask {
                    var splitter = LineSplitter()
                    for try await part in transport.stream(request) {
                        switch part {
                        case .head(let status, let headers):
                            #expect(status == 200)
                            #expect(headers["content-type"] == "application/json")
                            #expect(headers["transfer-encoding"] == "chunked")
                        case .body(let bytes):
                            for line in splitter.feed(bytes) {
                                let events = await seen.append(try JSONValue(parsing: line))
                                if done(events) { return events }
                            }
                        }
                    }
                    return await seen.events
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                let first = try await group.next()!
                group.cancelAll()
                guard let events = first else { throw WatchTimeout(events: await seen.events) }
                return events
            }
        }
    }

    /// The events a watch has given so far.
    actor EventLog {
        private(set) var events: [JSONValue] = []

        func append(_ event: JSONValue) -> [JSONValue] {
            events.append(event)
            return events
        }
    }

    /// A Job of one busybox container running `command`.
    private func job(
        _ name: String, _ command: [String], image: String = TestEnvironment.localImage, spec: [String: JSONValue] = [:],
        pod: [String: JSONValue] = [:], container: [String: JSONValue] = [:]
    ) -> JSONValue {
        var main: [String: JSONValue] = ["name": "main", "image": .string(image), "command": JSONValue(command)]
        main.merge(container) { $1 }
        var podSpec: [String: JSONValue] = ["restartPolicy": "Never", "containers": [.object(main)]]
        podSpec.merge(pod) { $1 }
        var jobSpec: [String: JSONValue] = [
            "backoffLimit": 0, "template": ["metadata": ["labels": ["app": "double-test"]], "spec": .object(podSpec)],
        ]
        jobSpec.merge(spec) { $1 }
        return [
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": ["name": .string(name), "labels": ["app": "double-test"]], "spec": .object(jobSpec),
        ]
    }

    private func podName(of job: String, _ client: Client) async throws -> String {
        let list = try await client.json("GET", "\(Self.pods)?labelSelector=job-name%3D\(job)")
        #expect(list["kind"]?.stringValue == "PodList")
        return try #require(list["items"]?.arrayValue?.first?["metadata"]?["name"]?.stringValue)
    }

    private static func phase(_ event: JSONValue) -> String? { event["object"]?["status"]?["phase"]?.stringValue }
    private static func container(_ event: JSONValue) -> JSONValue? {
        event["object"]?["status"]?["containerStatuses"]?.arrayValue?.first
    }
    private static func isPod(_ event: JSONValue) -> Bool { event["object"]?["kind"]?.stringValue == "Pod" }

    @Test("401 without a known token, 403 on Jobs and pods for the forbidden one, injected 5xx, Status bodies")
    func authentication() async throws {
        try await withDouble { double, client in
            for anonymous in [Client(double: double, token: nil), Client(double: double, token: "not-a-token")] {
                let status = try await anonymous.json("GET", "/version", expect: 401)
                #expect(status["kind"]?.stringValue == "Status")
                #expect(status["status"]?.stringValue == "Failure")
                #expect(status["reason"]?.stringValue == "Unauthorized")
                #expect(status["code"]?.int64Value == 401)
            }
            let version = try await client.json("GET", "/version")
            #expect(version["gitVersion"]?.stringValue == "v1.30.0-berth-double")
            #expect(version["minor"]?.stringValue == "30")

            let forbidden = Client(double: double, token: double.forbiddenToken)
            #expect(try await forbidden.json("GET", "/api/v1/namespaces/berth-test")["kind"]?.stringValue == "Namespace")
            let create = try await forbidden.json("POST", Self.jobs, job("nope", ["true"]), expect: 403)
            #expect(create["reason"]?.stringValue == "Forbidden")
            #expect(create["message"]?.stringValue == "jobs.batch is forbidden: User \"system:serviceaccount:berth:forbidden\" cannot create resource \"jobs\" in API group \"batch\" in the namespace \"berth-test\"")
            #expect(create["details"]?["group"]?.stringValue == "batch")
            #expect(create["details"]?["kind"]?.stringValue == "jobs")
            let get = try await forbidden.json("GET", "\(Self.pods)/some-pod/log", expect: 403)
            #expect(get["message"]?.stringValue == "pods \"some-pod\" is forbidden: User \"system:serviceaccount:berth:forbidden\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"berth-test\"")
            let missing = try await client.json("GET", "\(Self.pods)/nope", expect: 404)
            #expect(missing["message"]?.stringValue == "pods \"nope\" not found")
            #expect(try await client.json("GET", "/api/v1/namespaces/other", expect: 404)["message"]?.stringValue == "namespaces \"other\" not found")

            await double.failNext(2, status: 503)
            for _ in 0..<2 {
                let unavailable = try await client.json("GET", Self.jobs, expect: 503)
                #expect(unavailable["reason"]?.stringValue == "ServiceUnavailable")
                #expect(unavailable["code"]?.int64Value == 503)
            }
            let list = try await client.json("GET", Self.jobs)
            #expect(list["kind"]?.stringValue == "JobList")
            #expect(Int(list["metadata"]?["resourceVersion"]?.stringValue ?? "") != nil)
            #expect(await double.requests().filter { $0.status == 503 }.count == 2)
        }
    }

    @Test("the certificate listener takes the client certificate and refuses a connection without one; kubeconfigs load")
    func certificates() async throws {
        try await withDouble { double, _ in
            let path = "/api/v1/namespaces/berth-test"
            let mutual = CurlTransport(
                endpoint: .url(double.certificateURL),
                tls: CurlTLS(certificateAuthorityPEM: double.caPEM, clientCertificatePEM: double.clientCertificatePEM, clientKeyPEM: double.clientKeyPEM))
            let response = try await mutual.send(HTTPRequest(method: "GET", path: path, timeout: 10))
            #expect(response.status == 200, "\(response.text)")
            #expect(try response.json()["metadata"]?["name"]?.stringValue == "berth-test")

            let anonymous = CurlTransport(endpoint: .url(double.certificateURL), tls: CurlTLS(certificateAuthorityPEM: double.caPEM))
            await #expect(throws: PluginError.self) {
                _ = try await anonymous.send(HTTPRequest(method: "GET", path: path, timeout: 10))
            }

            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("berth-kd-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            for useCertificate in [false, true] {
                let file = "\(folder)/kubeconfig-\(useCertificate)"
                try double.writeKubeconfig(to: file, useCertificate: useCertificate, namespace: "berth-test", contextName: "kind-double")
                let credentials = try Kubeconfig.load(path: file, context: nil)
                #expect(credentials.namespace == "berth-test")
                #expect(credentials.server == (useCertificate ? double.certificateURL : double.tokenURL))
                let transport = CurlTransport(endpoint: .url(credentials.server), tls: credentials.tls)
                let headers = try credentials.token.map { ["Authorization": "Bearer \(try $0.value())"] } ?? [:]
                let answer = try await transport.send(HTTPRequest(method: "GET", path: path, headers: headers, timeout: 10))
                #expect(answer.status == 200, "kubeconfig with certificate \(useCertificate): \(answer.text)")
            }
        }
    }

    @Test("a Job's pod runs, fails with its exit code; the watch sees it in order with bookmarks; logs by stream; 409 for a duplicate")
    func jobLifecycle() async throws {
        try await withDouble { double, client in
            let created = try await client.json("POST", Self.jobs, job("fails", ["sh", "-c", "echo out; echo err >&2; exit 3"]), expect: 201)
            #expect(created["kind"]?.stringValue == "Job")
            #expect(created["spec"]?["template"]?["metadata"]?["labels"]?["job-name"]?.stringValue == "fails")
            let from = try #require(created["metadata"]?["resourceVersion"]?.stringValue)

            let duplicate = try await client.json("POST", Self.jobs, job("fails", ["true"]), expect: 409)
            #expect(duplicate["reason"]?.stringValue == "AlreadyExists")
            #expect(duplicate["message"]?.stringValue == "jobs.batch \"fails\" already exists")

            let events = try await client.watch(
                "\(Self.pods)?watch=true&labelSelector=job-name%3Dfails&resourceVersion=\(from)&allowWatchBookmarks=true"
            ) { events in
                guard let failed = events.firstIndex(where: { Self.phase($0) == "Failed" }) else { return false }
                return events[failed...].contains { $0["type"]?.stringValue == "BOOKMARK" }
            }
            let podEvents = events.filter(Self.isPod)
            #expect(podEvents.first?["type"]?.stringValue == "ADDED")
            let phases = podEvents.compactMap(Self.phase)
            #expect(phases.first == "Pending")
            let running = try #require(phases.firstIndex(of: "Running"), "phases: \(phases)")
            let failed = try #require(phases.firstIndex(of: "Failed"))
            #expect(running < failed)
            let versions = events.compactMap { Int($0["object"]?["metadata"]?["resourceVersion"]?.stringValue ?? "") }
            #expect(versions == versions.sorted(), "resourceVersions: \(versions)")
            #expect(events.contains { $0["type"]?.stringValue == "BOOKMARK" && $0["object"]?["kind"]?.stringValue == "Pod" })

            let end = try #require(podEvents.last { Self.phase($0) == "Failed" })
            let terminated = try #require(Self.container(end)?["state"]?["terminated"])
            #expect(terminated["exitCode"]?.int64Value == 3)
            #expect(terminated["reason"]?.stringValue == "Error")
            #expect(Self.container(end)?["containerID"]?.stringValue?.hasPrefix("docker://") == true)
            let pod = try #require(end["object"]?["metadata"]?["name"]?.stringValue)
            #expect(pod.hasPrefix("fails-") && pod.count == "fails-".count + 5)
            #expect(end["object"]?["metadata"]?["ownerReferences"]?.arrayValue?.first?["name"]?.stringValue == "fails")
            #expect(end["object"]?["spec"]?["nodeName"]?.stringValue == "double-node")

            var failedJob = try await client.json("GET", "\(Self.jobs)/fails")
            for _ in 0..<50 where failedJob["status"]?["failed"]?.int64Value != 1 {
                try await Task.sleep(for: .milliseconds(100))
                failedJob = try await client.json("GET", "\(Self.jobs)/fails")
            }
            #expect(failedJob["status"]?["failed"]?.int64Value == 1)
            #expect(failedJob["status"]?["conditions"]?.arrayValue?.first?["reason"]?.stringValue == "BackoffLimitExceeded")

            for (stream, expected) in [("All", ["out", "err"]), ("Stdout", ["out"]), ("Stderr", ["err"])] {
                let logs = try await client.send("GET", "\(Self.pods)/\(pod)/log?container=main&timestamps=true&stream=\(stream)")
                #expect(logs.status == 200)
                #expect(logs.headers["content-type"] == "text/plain")
                let lines = logs.text.split(separator: "\n")
                // Lines written to two pipes a moment apart may be merged in either order.
                #expect(lines.map { String($0.split(separator: " ", maxSplits: 1).last ?? "") }.sorted() == expected.sorted(), "\(stream): \(logs.text)")
                for line in lines {
                    #expect(Timestamp(rfc3339: String(line.split(separator: " ")[0])) != nil, "\(line)")
                }
            }
            let followed = try await client.send("GET", "\(Self.pods)/\(pod)/log?follow=true")
            #expect(followed.text.split(separator: "\n").sorted() == ["err", "out"])
            let later = Timestamp.now().adding(seconds: 5)
            #expect(try await client.send("GET", "\(Self.pods)/\(pod)/log?sinceTime=\(later.rfc3339)").text.isEmpty)
        }
    }

    @Test("an invalid Job is refused with 422 naming the field")
    func invalidJobs() async throws {
        try await withDouble { _, client in
            let cases: [(JSONValue, String, String)] = [
                (job("no-containers", [], pod: ["containers": []]), "spec.template.spec.containers", "Required value"),
                (job("no-image", ["true"], image: ""), "spec.template.spec.containers[0].image", "Required value"),
                (job("negative", ["true"], spec: ["activeDeadlineSeconds": -1]), "spec.activeDeadlineSeconds",
                 "Invalid value: -1: must be greater than or equal to 0"),
                (job("always", ["true"], pod: ["restartPolicy": "Always"]), "spec.template.spec.restartPolicy",
                 "Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""),
            ]
            for (body, field, message) in cases {
                let name = body["metadata"]?["name"]?.stringValue ?? ""
                let status = try await client.json("POST", Self.jobs, body, expect: 422)
                #expect(status["reason"]?.stringValue == "Invalid")
                #expect(status["message"]?.stringValue == "Job.batch \"\(name)\" is invalid: \(field): \(message)")
                #expect(status["details"]?["kind"]?.stringValue == "Job")
                let cause = status["details"]?["causes"]?.arrayValue?.first
                #expect(cause?["field"]?.stringValue == field)
                #expect(cause?["message"]?.stringValue == message)
            }
            var badLabel = job("bad-label", ["true"])
            if case .object(var object) = badLabel {
                object["metadata"] = ["name": "bad-label", "labels": ["team": "not valid!"]]
                badLabel = .object(object)
            }
            let label = try await client.json("POST", Self.jobs, badLabel, expect: 422)
            #expect(label["details"]?["causes"]?.arrayValue?.first?["field"]?.stringValue == "metadata.labels")
            #expect(label["message"]?.stringValue?.contains("Invalid value: \"not valid!\"") == true)
            #expect(try await client.json("GET", Self.jobs)["items"]?.arrayValue?.isEmpty == true)
        }
    }

    @Test("a nodeSelector the node lacks leaves the pod Unschedulable; after expireWatchHistory an old resourceVersion gets 410")
    func unschedulableAndExpiredWatch() async throws {
        try await withDouble(nodeLabels: ["kubernetes.io/hostname": "double-node", "pool": "cpu"]) { double, client in
            let before = try #require(try await client.json("GET", Self.pods)["metadata"]?["resourceVersion"]?.stringValue)
            _ = try await client.json("POST", Self.jobs, job("nowhere", ["true"], pod: ["nodeSelector": ["pool": "gpu"]]), expect: 201)
            let pod = try await podName(of: "nowhere", client)
            let object = try await client.json("GET", "\(Self.pods)/\(pod)")
            #expect(object["status"]?["phase"]?.stringValue == "Pending")
            let condition = try #require(object["status"]?["conditions"]?.arrayValue?.first)
            #expect(condition["type"]?.stringValue == "PodScheduled")
            #expect(condition["status"]?.stringValue == "False")
            #expect(condition["reason"]?.stringValue == "Unschedulable")
            #expect(condition["message"]?.stringValue == "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
            #expect(object["spec"]?["nodeName"] == nil)
            let logs = try await client.json("GET", "\(Self.pods)/\(pod)/log", expect: 400)
            #expect(logs["message"]?.stringValue == "pod \(pod) does not have a host assigned")

            // Before expiry the history replays; after it, the old resourceVersion is gone.
            let replay = try await client.watch("\(Self.pods)?watch=true&resourceVersion=\(before)") { $0.count >= 2 }
            #expect(replay.first?["type"]?.stringValue == "ADDED")
            await double.expireWatchHistory()
            let current = await double.resourceVersion
            let expired = try await client.watch("\(Self.pods)?watch=true&resourceVersion=\(before)&allowWatchBookmarks=true") { _ in false }
            #expect(expired.count == 1)
            #expect(expired.first?["type"]?.stringValue == "ERROR")
            let status = try #require(expired.first?["object"])
            #expect(status["kind"]?.stringValue == "Status")
            #expect(status["code"]?.int64Value == 410)
            #expect(status["reason"]?.stringValue == "Expired")
            #expect(status["message"]?.stringValue == "too old resource version: \(before) (\(current))")

            // From the current resourceVersion nothing is replayed; bookmarks come; timeoutSeconds ends it.
            let clock = ContinuousClock()
            let started = clock.now
            let quiet = try await client.watch("\(Self.pods)?watch=true&resourceVersion=\(current)&allowWatchBookmarks=true&timeoutSeconds=1") { _ in false }
            #expect(clock.now - started < .seconds(15))  // timeoutSeconds=1 ended it (loose: two shared cores)
            #expect(!quiet.isEmpty && quiet.allSatisfy { $0["type"]?.stringValue == "BOOKMARK" })
            #expect(quiet.last?["object"]?["metadata"]?["resourceVersion"]?.stringValue == String(current))
            // Without a resourceVersion, existing pods come first as ADDED.
            let listed = try await client.watch("\(Self.pods)?watch=true") { !$0.isEmpty }
            #expect(listed.first?["type"]?.stringValue == "ADDED")
            // The client hung up on that one without a bookmark to write: the double notices.
            for _ in 0..<50 where await double.openWatches > 0 { try await Task.sleep(for: .milliseconds(100)) }
            #expect(await double.openWatches == 0)
            #expect(try await double.containerCount == 0)
        }
    }

    @Test("an image missing from the registry gives ErrImagePull, then ImagePullBackOff")
    func missingImage() async throws {
        try await withDouble { _, client in
            let image = "\(try TestEnvironment.registry())/berth/none:1"
            let created = try await client.json("POST", Self.jobs, job("pull", ["true"], image: image), expect: 201)
            let from = try #require(created["metadata"]?["resourceVersion"]?.stringValue)
            let events = try await client.watch("\(Self.pods)?watch=true&resourceVersion=\(from)") { events in
                events.contains { Self.container($0)?["state"]?["waiting"]?["reason"]?.stringValue == "ImagePullBackOff" }
            }
            let waits = events.compactMap { Self.container($0)?["state"]?["waiting"] }
            let pullError = try #require(waits.first { $0["reason"]?.stringValue == "ErrImagePull" })
            #expect(pullError["message"]?.stringValue?.hasPrefix("rpc error: code = NotFound desc = failed to pull and unpack image \"\(image)\"") == true,
                    "\(pullError)")
            let backOff = try #require(waits.last)
            #expect(backOff["message"]?.stringValue == "Back-off pulling image \"\(image)\"")
            #expect(events.allSatisfy { Self.phase($0) == "Pending" })
            let pod = try await podName(of: "pull", client)
            let logs = try await client.json("GET", "\(Self.pods)/\(pod)/log", expect: 400)
            #expect(logs["message"]?.stringValue?.hasPrefix("container \"main\" in pod \"\(pod)\" is waiting to start: ") == true)
        }
    }

    @Test("deleting a running Job with a grace period stops its pod: the terminated state, then DELETED")
    func deleteRunningJob() async throws {
        try await withDouble { double, client in
            let created = try await client.json("POST", Self.jobs, job("sleeper", ["sleep", "30"]), expect: 201)
            let from = try #require(created["metadata"]?["resourceVersion"]?.stringValue)
            let running = try await client.watch("\(Self.pods)?watch=true&resourceVersion=\(from)") { events in
                events.contains { Self.phase($0) == "Running" }
            }
            let runningVersion = try #require(running.last?["object"]?["metadata"]?["resourceVersion"]?.stringValue)
            #expect(try await double.containerCount == 1)

            let deleted = try await client.json("DELETE", "\(Self.jobs)/sleeper?propagationPolicy=Background&gracePeriodSeconds=1")
            #expect(deleted["metadata"]?["name"]?.stringValue == "sleeper")
            let events = try await client.watch("\(Self.pods)?watch=true&resourceVersion=\(runningVersion)") { events in
                events.contains { $0["type"]?.stringValue == "DELETED" }
            }
            let types = events.compactMap { $0["type"]?.stringValue }
            #expect(types.last == "DELETED", "\(types)")
            #expect(events.first?["object"]?["metadata"]?["deletionTimestamp"] != nil)
            #expect(events.first?["object"]?["metadata"]?["deletionGracePeriodSeconds"]?.int64Value == 1)
            let terminated = try #require(events.firstIndex { Self.container($0)?["state"]?["terminated"] != nil })
            #expect(terminated < events.count - 1)
            #expect(events[terminated]["type"]?.stringValue == "MODIFIED")
            #expect(Self.phase(events[terminated]) == "Failed")
            _ = try await client.json("GET", "\(Self.jobs)/sleeper", expect: 404)
            #expect(try await client.json("GET", Self.pods)["items"]?.arrayValue?.isEmpty == true)
            for _ in 0..<50 where try await double.containerCount > 0 { try await Task.sleep(for: .milliseconds(100)) }
            #expect(try await double.containerCount == 0)
        }
    }

    @Test("activeDeadlineSeconds kills the pod: DeadlineExceeded on the pod and the Job")
    func deadline() async throws {
        try await withDouble { _, client in
            let created = try await client.json(
                "POST", Self.jobs, job("late", ["sleep", "30"], spec: ["activeDeadlineSeconds": 1]), expect: 201)
            let from = try #require(created["metadata"]?["resourceVersion"]?.stringValue)
            let events = try await client.watch("\(Self.pods)?watch=true&resourceVersion=\(from)", timeout: .seconds(15)) { events in
                events.contains { Self.phase($0) == "Failed" }
            }
            let end = try #require(events.last)
            #expect(end["object"]?["status"]?["reason"]?.stringValue == "DeadlineExceeded")
            #expect(end["object"]?["status"]?["message"]?.stringValue == "Pod was active on the node longer than the specified deadline")
            #expect(Self.container(end)?["state"]?["terminated"]?["exitCode"]?.int64Value == 137)
            var late = try await client.json("GET", "\(Self.jobs)/late")
            for _ in 0..<50 where late["status"]?["conditions"] == nil {
                try await Task.sleep(for: .milliseconds(100))
                late = try await client.json("GET", "\(Self.jobs)/late")
            }
            let condition = try #require(late["status"]?["conditions"]?.arrayValue?.first)
            #expect(condition["type"]?.stringValue == "Failed")
            #expect(condition["reason"]?.stringValue == "DeadlineExceeded")
        }
    }

    @Test("ttlSecondsAfterFinished deletes a finished Job and its pod")
    func ttlAfterFinished() async throws {
        try await withDouble { _, client in
            let created = try await client.json(
                "POST", Self.jobs, job("brief", ["sh", "-c", "echo done"], spec: ["ttlSecondsAfterFinished": 1]), expect: 201)
            let from = try #require(created["metadata"]?["resourceVersion"]?.stringValue)
            let events = try await client.watch("\(Self.pods)?watch=true&resourceVersion=\(from)") { events in
                events.contains { $0["type"]?.stringValue == "DELETED" }
            }
            #expect(events.contains { Self.phase($0) == "Succeeded" })
            #expect(Self.phase(try #require(events.last)) == "Succeeded")
            let gone = try await client.json("GET", "\(Self.jobs)/brief", expect: 404)
            #expect(gone["message"]?.stringValue == "jobs.batch \"brief\" not found")
            #expect(gone["details"]?["group"]?.stringValue == "batch")
        }
    }

    @Test("a pod mounting a missing ConfigMap waits in ContainerCreating, then runs with its files; the ConfigMap goes with its owner Job")
    func configMapVolumes() async throws {
        try await withDouble { double, client in
            let configMaps = "/api/v1/namespaces/berth-test/configmaps"
            let volumes: JSONValue = [
                ["name": "one", "configMap": ["name": "settings", "items": [["key": "a", "path": "a.json", "mode": 0o600]]]],
                ["name": "all", "configMap": ["name": "settings"]],
            ]
            let mounts: JSONValue = [["name": "one", "mountPath": "/in/a.json", "subPath": "a.json"], ["name": "all", "mountPath": "/all"]]
            let script = "cat /in/a.json; echo; ls /all; cat /all/b; stat -c %a /in/a.json"
            let created = try await client.json(
                "POST", Self.jobs, job("files", ["sh", "-c", script], pod: ["volumes": volumes], container: ["volumeMounts": mounts]), expect: 201)
            let pod = try await podName(of: "files", client)
            // A new pod is ContainerCreating from the start; the kubelet then says why it waits.
            var waiting: JSONValue?
            for _ in 0..<100 {
                waiting = try await client.json("GET", "\(Self.pods)/\(pod)")["status"]?["containerStatuses"]?.arrayValue?.first?["state"]?["waiting"]
                if waiting?["message"]?.stringValue != nil { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(waiting?["reason"] == "ContainerCreating")
            #expect(waiting?["message"] == #"MountVolume.SetUp failed for volume "one" : configmap "settings" not found"#)

            let configMap: JSONValue = [
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "settings", "labels": ["app": "double-test"]],
                "data": ["a": #"{"x": 1}"#], "binaryData": ["b": .string(Base64.encode(Array("bee\n".utf8)))],
            ]
            let stored = try await client.json("POST", configMaps, configMap, expect: 201)
            #expect(stored["binaryData"]?["b"] == .string(Base64.encode(Array("bee\n".utf8))))
            #expect(try await client.json("POST", configMaps, configMap, expect: 409)["reason"] == "AlreadyExists")
            var phase: String?
            for _ in 0..<200 where phase != "Succeeded" && phase != "Failed" {
                try await Task.sleep(for: .milliseconds(100))
                phase = try await client.json("GET", "\(Self.pods)/\(pod)")["status"]?["phase"]?.stringValue
            }
            #expect(phase == "Succeeded")
            let logs = try await client.send("GET", "\(Self.pods)/\(pod)/log")
            #expect(logs.text == "{\"x\": 1}\na\nb\nbee\n600\n")

            // Owned by the Job (a merge patch), then deleted with it.
            let uid = try #require(created["metadata"]?["uid"]?.stringValue)
            let patch: JSONValue = ["metadata": ["ownerReferences": [["apiVersion": "batch/v1", "kind": "Job", "name": "files", "uid": .string(uid)]]]]
            let patched = try await client.transport.send(HTTPRequest(
                method: "PATCH", path: "\(configMaps)/settings",
                headers: client.headers.merging(["Content-Type": "application/merge-patch+json"]) { $1 }, body: patch.serialized(), timeout: 10))
            #expect(patched.status == 200, "\(patched.text)")
            #expect(try patched.json()["metadata"]?["ownerReferences"]?.arrayValue?.first?["uid"] == .string(uid))
            #expect(try patched.json()["data"]?["a"] == #"{"x": 1}"#)
            _ = try await client.json("DELETE", "\(Self.jobs)/files?propagationPolicy=Background")
            #expect(try await client.json("GET", "\(configMaps)/settings", expect: 404)["message"] == #"configmaps "settings" not found"#)
            #expect(await double.configMaps().isEmpty)

            // What the API server refuses.
            let badKey = try await client.json(
                "POST", configMaps, ["metadata": ["name": "bad"], "data": ["a/b": "x"]], expect: 422)
            #expect(badKey["details"]?["causes"]?.arrayValue?.first?["field"] == "data")
            let tooBig = try await client.json(
                "POST", configMaps, ["metadata": ["name": "big"], "data": ["a": .string(String(repeating: "x", count: 1_048_577))]], expect: 422)
            #expect(tooBig["message"]?.stringValue?.contains("Too long: must have at most 1048576 bytes") == true)
            let unknownVolume = try await client.json(
                "POST", Self.jobs, job("nomount", ["true"], container: ["volumeMounts": [["name": "nope", "mountPath": "/x"]]]), expect: 422)
            #expect(unknownVolume["details"]?["causes"]?.arrayValue?.first?["field"] == "spec.template.spec.containers[0].volumeMounts[0].name")
        }
    }
}
