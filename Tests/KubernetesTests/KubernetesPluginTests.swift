import BerthPluginKit
import BerthTestSupport
import Foundation
import KubernetesAPI
import KubernetesDouble
import Testing

/// The Kubernetes plugin, loaded as a shared library and driven through the C ABI, against
/// the API server double (real HTTPS, pods as containers on the real test Docker engine).
@Suite("Kubernetes plugin", .serialized, .timeLimit(.minutes(2)))
struct KubernetesPluginTests {
    /// A running double, a kubeconfig for it, and the plugin opened on it.
    struct Cluster {
        let double: KubernetesDouble
        let kubeconfig: String
        let backend: PluginInstance
        let server: String
    }

    /// Runs `body` with the plugin on a fresh double; `settings` adds host settings.
    private func withCluster(
        useCertificate: Bool = false, bookmarkInterval: Duration = .seconds(1), _ settings: [String: JSONValue] = [:],
        _ body: (Cluster) async throws -> Void
    ) async throws {
        let double = try await KubernetesDouble.start(dockerSocket: try TestEnvironment.dockerSocket(), bookmarkInterval: bookmarkInterval)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("berth-k8s-\(TestEnvironment.uniqueID().prefix(8))").path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let kubeconfig = "\(folder)/kubeconfig"
            try double.writeKubeconfig(to: kubeconfig, useCertificate: useCertificate, namespace: "berth-test")
            var all: [String: JSONValue] = ["kubeconfig": .string(kubeconfig), "image_pull_grace_seconds": 2]
            all.merge(settings) { _, new in new }
            let server = "berth-test-" + TestEnvironment.uniqueID()
            let backend = try await TestPlugins.open(library: "libBerthKubernetes.so", host: "k8s", settings: .object(all), server: server)
            do {
                try await body(Cluster(double: double, kubeconfig: kubeconfig, backend: backend, server: server))
            } catch {
                await backend.close()
                throw error
            }
            await backend.close()
        } catch {
            await double.stop()
            try? FileManager.default.removeItem(atPath: folder)
            throw error
        }
        await double.stop()
        try? FileManager.default.removeItem(atPath: folder)
    }

    private func shell(_ script: String) -> ExecutionSpec {
        ExecutionSpec(executionID: TestEnvironment.uniqueID(), image: TestEnvironment.localImage, args: ["sh", "-c", script])
    }

    @Test("berth plugin conformance passes against the double", .timeLimit(.minutes(10)))
    func conformance() async throws {
        try await withCluster { cluster in
            let settings = FileManager.default.temporaryDirectory.appendingPathComponent("k8s-conformance-\(TestEnvironment.uniqueID()).yaml").path
            // Split log streams: the suite checks stdout and stderr apart (docs/kubernetes.md).
            try "kubeconfig: \(cluster.kubeconfig)\nlog_streams: split\nimage_pull_grace_seconds: 2\n"
                .write(toFile: settings, atomically: true, encoding: .utf8)
            let run = try await Subprocess.berth(
                ["plugin", "conformance", TestEnvironment.pluginFolder + "/libBerthKubernetes.so", "--settings", settings,
                 "--image", TestEnvironment.localImage],
                timeout: 600)
            print("berth plugin conformance libBerthKubernetes.so:\n\(run.stdout)")
            #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
            #expect(run.stdout.contains("14 passed, 0 failed, 0 skipped"), "\(run.stdout)")
        }
    }

    @Test("a Job runs to its exit code, with both streams in its logs")
    func exitCodeAndLogs() async throws {
        try await withCluster { cluster in
            let handle = try await cluster.backend.start(shell("echo out; echo err >&2; exit 3"))
            let status = try await TestPlugins.waitUntilFinal(cluster.backend, handle)
            #expect(status.state == .exited)
            #expect(status.exitCode == 3)
            #expect(status.startedAt != nil && status.finishedAt != nil)
            let chunks = try await TestPlugins.collect(cluster.backend.logs(LogRequest(handle: handle)))
            #expect(Set(chunks.map(\.text)) == ["out\n", "err\n"])
            try await cluster.backend.remove(handle)
        }
    }

    @Test("with split log streams stdout and stderr are kept apart; a follow ends with the container")
    func splitStreamsAndFollow() async throws {
        try await withCluster(["log_streams": "split"]) { cluster in
            let handle = try await cluster.backend.start(shell("echo a; sleep 1; echo b >&2; echo c"))
            let chunks = try await TestPlugins.collect(cluster.backend.logs(LogRequest(handle: handle, follow: true)))
            #expect(chunks.filter { $0.stream == .stdout }.map(\.text) == ["a\n", "c\n"])
            #expect(chunks.filter { $0.stream == .stderr }.map(\.text) == ["b\n"])
            // The kubelet ends the follow when the container exits; the pod's status reaches the
            // API server a moment later, as on a real cluster.
            #expect(try await TestPlugins.waitUntilFinal(cluster.backend, handle, timeout: .seconds(10)).exitCode == 0)
            // `since` is exact and inclusive: what was stamped at or after c, in either stream (the
            // engine stamps each stream as it reads it, so b may carry a later time than c).
            let since = try #require(chunks.first { $0.text == "c\n" }?.timestamp)
            let rest = try await TestPlugins.collect(cluster.backend.logs(LogRequest(handle: handle, since: since)))
            #expect(rest.map(\.text).sorted() == chunks.filter { $0.timestamp >= since }.map(\.text).sorted())
            #expect(rest.contains { $0.text == "c\n" })
            #expect(!rest.contains { $0.text == "a\n" })
            try await cluster.backend.remove(handle)
        }
    }

    @Test("a client certificate from the kubeconfig logs in; health names the version and namespace")
    func clientCertificate() async throws {
        try await withCluster(useCertificate: true) { cluster in
            let health = try await cluster.backend.health()
            #expect(health.ok, "\(health.message)")
            #expect(health.message.contains("berth-test"))
            let (_, status) = try await run(cluster, shell("exit 0"))
            #expect(status.exitCode == 0)
        }
    }

    @Test("a server certificate no trusted authority signed is refused, unless the kubeconfig says to skip verification")
    func serverVerification() async throws {
        try await withCluster { cluster in
            let text = try String(contentsOfFile: cluster.kubeconfig, encoding: .utf8)
            let withoutAuthority = text.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.contains("certificate-authority-data") }.joined(separator: "\n")
            let untrusted = cluster.kubeconfig + "-untrusted"
            try withoutAuthority.write(toFile: untrusted, atomically: true, encoding: .utf8)
            let refused = try await TestPlugins.open(library: "libBerthKubernetes.so", host: "k8s", settings: ["kubeconfig": .string(untrusted)])
            let error = await #expect(throws: PluginError.self) { _ = try await refused.start(shell("true")) }
            #expect(error?.code == .permissionDenied, "\(error?.message ?? "")")
            #expect(try await refused.health().ok == false)
            await refused.close()

            let lax = withoutAuthority.replacingOccurrences(of: "    server: ", with: "    insecure-skip-tls-verify: true\n    server: ")
            let skipping = cluster.kubeconfig + "-skip"
            try lax.write(toFile: skipping, atomically: true, encoding: .utf8)
            let accepted = try await TestPlugins.open(library: "libBerthKubernetes.so", host: "k8s", settings: ["kubeconfig": .string(skipping)])
            let health = try await accepted.health()
            #expect(health.ok, "\(health.message)")
            await accepted.close()
        }
    }

    private func run(_ cluster: Cluster, _ spec: ExecutionSpec) async throws -> (RuntimeHandle, RuntimeStatus) {
        let handle = try await cluster.backend.start(spec)
        let status = try await TestPlugins.waitUntilFinal(cluster.backend, handle)
        try await cluster.backend.remove(handle)
        return (handle, status)
    }

    @Test("events report running and the exit code, with Berth's labels")
    func events() async throws {
        try await withCluster { cluster in
            var iterator = cluster.backend.events().makeAsyncIterator()
            guard case .connection(true, _)? = try await iterator.next() else {
                Issue.record("the first event is not a connection")
                return
            }
            let spec = shell("sleep 1; exit 7")
            let handle = try await cluster.backend.start(spec)
            var states: [RuntimeStatus.State] = []
            var exitCode: Int32?
            while states.last != .exited, let event = try await iterator.next() {
                guard case .status(let eventHandle, let labels, let status) = event, eventHandle == handle else { continue }
                #expect(labels[BerthLabel.execution] == spec.executionID)
                if states.last != status.state { states.append(status.state) }
                exitCode = status.exitCode
            }
            #expect(states.last == .exited)
            #expect(states.contains(.running))
            #expect(exitCode == 7)
            try await cluster.backend.remove(handle)
        }
    }

    @Test("a watch whose resourceVersion expired (410) lists again and misses no transition")
    func watchExpiry() async throws {
        // No bookmarks during the test, so the plugin's watch stays at an old resourceVersion.
        try await withCluster(bookmarkInterval: .seconds(600)) { cluster in
            var iterator = cluster.backend.events().makeAsyncIterator()
            guard case .connection(true, _)? = try await iterator.next() else {
                Issue.record("the first event is not a connection")
                return
            }
            // Another server's Job moves the resourceVersion on without this watch seeing it.
            let other = try await TestPlugins.open(
                library: "libBerthKubernetes.so", host: "k8s", settings: ["kubeconfig": .string(cluster.kubeconfig)], server: "someone-else")
            let otherHandle = try await other.start(shell("true"))
            for _ in 0..<100 where await cluster.double.pods().isEmpty { try await Task.sleep(for: .milliseconds(20)) }
            await cluster.double.expireWatchHistory()
            // The plugin's own pod listings: its label selector names its server.
            func listings() async -> Int {
                await cluster.double.requests().filter {
                    $0.path.hasSuffix("/pods") && $0.query.contains(cluster.server) && !$0.query.contains("watch=true")
                }.count
            }
            let relists = await listings()
            await cluster.double.endWatches()
            let spec = shell("exit 4")
            let handle = try await cluster.backend.start(spec)
            var exitCode: Int32?
            while exitCode == nil, let event = try await iterator.next() {
                if case .status(let eventHandle, _, let status) = event, eventHandle == handle, status.isFinal { exitCode = status.exitCode }
            }
            #expect(exitCode == 4)
            let watches = await cluster.double.requests().filter { $0.path.hasSuffix("/pods") && $0.query.contains("watch=true") && $0.query.contains(cluster.server) }
            #expect(watches.count >= 3, "watch, the expired watch again, and the watch after the new listing: \(watches)")
            #expect(await listings() > relists, "the plugin listed again after 410")
            try await cluster.backend.remove(handle)
            try await other.remove(otherHandle)
            await other.close()
        }
    }

    @Test("a failing watch is reported as a lost connection, retried with backoff, and the host comes back")
    func watchReconnects() async throws {
        try await withCluster { cluster in
            var iterator = cluster.backend.events().makeAsyncIterator()
            guard case .connection(true, _)? = try await iterator.next() else {
                Issue.record("the first event is not a connection")
                return
            }
            await cluster.double.failNext(2, status: 503)
            await cluster.double.endWatches()
            var connections: [Bool] = []
            while connections.last != true, let event = try await iterator.next() {
                if case .connection(let available, _) = event { connections.append(available) }
            }
            #expect(connections == [false, true])
            let handle = try await cluster.backend.start(shell("exit 2"))
            var exitCode: Int32?
            while exitCode == nil, let event = try await iterator.next() {
                if case .status(let eventHandle, _, let status) = event, eventHandle == handle, status.isFinal { exitCode = status.exitCode }
            }
            #expect(exitCode == 2)
            try await cluster.backend.remove(handle)
        }
    }

    @Test("starting the same attempt twice adopts the first Job; list by labels finds exactly what was started")
    func adoptAndList() async throws {
        try await withCluster { cluster in
            let spec = shell("sleep 20")
            let first = try await cluster.backend.start(spec)
            let second = try await cluster.backend.start(spec)
            #expect(first == second)
            let other = try await cluster.backend.start(shell("sleep 20"))
            let listed = try await cluster.backend.list(labels: [BerthLabel.server: cluster.server])
            #expect(Set(listed.map(\.handle)) == [first, other])
            #expect(listed.first { $0.handle == first }?.labels[BerthLabel.execution] == spec.executionID)
            for handle in [first, other] { try await cluster.backend.remove(handle) }
            #expect(try await cluster.backend.list(labels: [BerthLabel.server: cluster.server]).isEmpty)
            let gone = await #expect(throws: PluginError.self) { _ = try await cluster.backend.inspect(first) }
            #expect(gone?.code == .notFound)
        }
    }

    @Test("input files reach the container through a ConfigMap that the Job owns and that goes with it")
    func inputFiles() async throws {
        try await withCluster { cluster in
            var spec = shell("cat /berth/in/config.json; echo; stat -c %a /berth/in/run.sh; sh /berth/in/run.sh")
            spec.files = [
                SpecFile(path: "/berth/in/config.json", data: Array(#"{"steps": 3}"#.utf8)),
                SpecFile(path: "/berth/in/run.sh", data: Array("echo ran\n".utf8), mode: 0o755),
            ]
            let handle = try await cluster.backend.start(spec)
            let configMaps = await cluster.double.configMaps()
            #expect(configMaps.count == 1)
            let job = try #require(await cluster.double.jobs().first)
            #expect(configMaps.first?["metadata"]?["name"] == job["metadata"]?["name"])
            #expect(configMaps.first?["metadata"]?["labels"]?[BerthLabel.execution] == .string(spec.executionID))
            #expect(configMaps.first?["metadata"]?["ownerReferences"]?.arrayValue?.first?["uid"] == job["metadata"]?["uid"])
            let status = try await TestPlugins.waitUntilFinal(cluster.backend, handle)
            #expect(status.exitCode == 0, "\(status)")
            let chunks = try await TestPlugins.collect(cluster.backend.logs(LogRequest(handle: handle)))
            #expect(chunks.map(\.text).joined() == "{\"steps\": 3}\n755\nran\n")
            // Starting the same attempt again adopts both.
            #expect(try await cluster.backend.start(spec) == handle)
            try await cluster.backend.remove(handle)
            #expect(await cluster.double.configMaps().isEmpty)

            var big = shell("true")
            big.files = [SpecFile(path: "/berth/in/config.json", data: Array(repeating: 0x20, count: JobTemplate.maxFileBytes))]
            let refused = await #expect(throws: PluginError.self) { _ = try await cluster.backend.start(big) }
            #expect(refused?.code == .invalidSpec)
            #expect(refused?.message.contains("ConfigMap holds at most 1048576") == true, "\(String(describing: refused))")
            let jobsLeft = await cluster.double.jobs()
            let configMapsLeft = await cluster.double.configMaps()
            #expect(jobsLeft.isEmpty && configMapsLeft.isEmpty)
        }
    }

    @Test("stop ends a running attempt within its grace")
    func stop() async throws {
        try await withCluster { cluster in
            var iterator = cluster.backend.events().makeAsyncIterator()
            let handle = try await cluster.backend.start(shell("sleep 300"))
            for _ in 0..<200 where try await cluster.backend.inspect(handle).state != .running {
                try await Task.sleep(for: .milliseconds(50))
            }
            let clock = ContinuousClock()
            let began = clock.now
            try await cluster.backend.stop(handle, graceSeconds: 1)
            var final: RuntimeStatus?
            while final == nil, let event = try await iterator.next() {
                if case .status(let eventHandle, _, let status) = event, eventHandle == handle, status.isFinal { final = status }
            }
            #expect(clock.now - began < .seconds(60))  // far from the 300 s sleep
            #expect(final?.state == .exited || final?.state == .failed, "\(String(describing: final))")
            try await cluster.backend.remove(handle)
        }
    }

    @Test("an unschedulable pod waits with the scheduler's message")
    func unschedulable() async throws {
        try await withCluster(["node_selector": ["gpu": "true"]]) { cluster in
            let handle = try await cluster.backend.start(shell("true"))
            var status = try await cluster.backend.inspect(handle)
            for _ in 0..<100 where status.reason?.contains("Unschedulable") != true {
                try await Task.sleep(for: .milliseconds(50))
                status = try await cluster.backend.inspect(handle)
            }
            #expect(status.state == .created)
            #expect(status.reason?.contains("didn't match Pod's node affinity/selector") == true, "\(status)")
            try await cluster.backend.remove(handle)
        }
    }

    @Test("an image that cannot be pulled fails as image_not_found naming it once the grace has passed")
    func imagePullGrace() async throws {
        try await withCluster { cluster in
            var iterator = cluster.backend.events().makeAsyncIterator()
            let image = "\(try TestEnvironment.registry())/berth/does-not-exist:1"
            var spec = shell("true")
            spec.image = image
            let handle = try await cluster.backend.start(spec)
            var final: RuntimeStatus?
            while final == nil, let event = try await iterator.next() {
                if case .status(let eventHandle, _, let status) = event, eventHandle == handle, status.isFinal { final = status }
            }
            #expect(final?.state == .failed)
            #expect(final?.errorCode == .imageNotFound)
            #expect(final?.reason?.contains(image) == true, "\(String(describing: final))")
            #expect(try await cluster.backend.inspect(handle).errorCode == .imageNotFound)
            try await cluster.backend.remove(handle)
        }
    }

    @Test("the timeout becomes activeDeadlineSeconds: the cluster ends the attempt")
    func deadline() async throws {
        try await withCluster { cluster in
            var spec = shell("sleep 30")
            spec.timeoutSeconds = 1
            let handle = try await cluster.backend.start(spec)
            let status = try await TestPlugins.waitUntilFinal(cluster.backend, handle, timeout: .seconds(20))
            #expect(status.isFinal)
            #expect(status.reason?.contains("DeadlineExceeded") == true || status.exitCode == 137, "\(status)")
            try await cluster.backend.remove(handle)
        }
    }

    @Test("refused credentials are permission_denied naming the verb and resource; a 503 is unavailable")
    func errors() async throws {
        try await withCluster { cluster in
            // A kubeconfig whose token the server does not know.
            let text = try String(contentsOfFile: cluster.kubeconfig, encoding: .utf8)
                .replacingOccurrences(of: cluster.double.token, with: cluster.double.forbiddenToken)
            let forbiddenConfig = cluster.kubeconfig + "-forbidden"
            try text.write(toFile: forbiddenConfig, atomically: true, encoding: .utf8)
            let forbidden = try await TestPlugins.open(
                library: "libBerthKubernetes.so", host: "k8s", settings: ["kubeconfig": .string(forbiddenConfig)])
            let denied = await #expect(throws: PluginError.self) { _ = try await forbidden.start(shell("true")) }
            #expect(denied?.code == .permissionDenied)
            #expect(denied?.message.contains("create jobs") == true, "\(denied?.message ?? "")")
            #expect(try await forbidden.health().ok == false)
            await forbidden.close()

            await cluster.double.failNext(1, status: 503)
            let busy = await #expect(throws: PluginError.self) { _ = try await cluster.backend.start(shell("true")) }
            #expect(busy?.code == .unavailable)
            #expect(busy?.retryable == true)
        }
    }

    @Test("bad settings are invalid_config naming the key")
    func badSettings() async throws {
        let plugin = try LoadedPlugin.load(file: TestEnvironment.pluginFolder + "/libBerthKubernetes.so")
        let neither = await #expect(throws: PluginError.self) { _ = try await plugin.open(settings: [:], host: "k8s", server: "s") }
        #expect(neither?.code == .invalidConfig)
        #expect(neither?.message.contains("kubeconfig") == true)
        let missing = await #expect(throws: PluginError.self) {
            _ = try await plugin.open(settings: ["kubeconfig": "/nonexistent/kubeconfig"], host: "k8s", server: "s")
        }
        #expect(missing?.message.contains("/nonexistent/kubeconfig") == true)
        let unknown = await #expect(throws: PluginError.self) {
            _ = try await plugin.open(settings: ["kubeconfig": "/x", "namespcae": "a"], host: "k8s", server: "s")
        }
        #expect(unknown?.message.contains("namespcae") == true)
    }
}
