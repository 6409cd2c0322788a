import BerthHTTP
public import BerthPluginKit
import Synchronization

/// Reads the one pod watch of a host for its ``BackendEventHub``.
///
/// It lists the pods labelled `berth.server=<this server>`, reports each, and watches from the
/// list's resourceVersion with bookmarks (so a reconnect resumes from the newest version seen,
/// even when no pod changed). A `410 Gone` (the version is too old) lists again; a lost
/// connection is reported and retried with backoff (0.2 s doubling to 5 s); every
/// (re)connection is reported, the cue for consumers to catch up. Pull problems that outlast
/// their grace are reported as failures even when the pod does not change.
final class PodWatchPump: Sendable {
    let client: KubernetesClient
    let namespace: String
    let server: String
    let pulls: ImagePullGrace
    /// Seconds a watch request lasts before it is renewed from the last version.
    static let watchSeconds = 290

    init(client: KubernetesClient, namespace: String, server: String, pulls: ImagePullGrace) {
        self.client = client
        self.namespace = namespace
        self.server = server
        self.pulls = pulls
    }

    /// A hub whose pump this is.
    func hub() -> BackendEventHub {
        BackendEventHub { hub in await self.pump(hub) }
    }

    private var selector: String { KubernetesClient.selector([BerthLabel.server: server]) }

    private func pump(_ hub: BackendEventHub) async {
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                for (pulling, status) in pulls.expired() {
                    hub.broadcast(.status(handle: pulling.handle, labels: pulling.labels, status: status))
                }
            }
        }
        defer { ticker.cancel() }
        await hub.reconnecting(lost: { error in
            "lost the pod watch on \(client.server), namespace \(namespace): \(error.message)"
        }) { connected throws(PluginError) in
            var version = try await list(hub)
            connected()
            while !Task.isCancelled, let next = try await watch(from: version, hub) {
                version = next
            }
        }
    }

    /// Lists the pods, reports each, and returns the list's resourceVersion.
    private func list(_ hub: BackendEventHub) async throws(PluginError) -> String {
        let (_, body) = try await client.call(
            "GET", KubernetesClient.path("pods", namespace: namespace), query: [("labelSelector", selector)],
            verb: "list", resource: "pods in namespace \(namespace)")
        hub.setAvailable(true, "watching pods on \(client.server), namespace \(namespace)")
        for pod in body?["items"]?.arrayValue ?? [] { report(pod, type: "ADDED", hub) }
        return body?["metadata"]?["resourceVersion"]?.stringValue ?? ""
    }

    /// Watches from `version` until the server ends the request; returns the newest version
    /// seen to go on from, or nil when the version expired and the pods must be listed again.
    private func watch(from version: String, _ hub: BackendEventHub) async throws(PluginError) -> String? {
        let request = try client.request(
            "GET", KubernetesClient.path("pods", namespace: namespace),
            query: [
                ("labelSelector", selector), ("watch", "true"), ("resourceVersion", version),
                ("allowWatchBookmarks", "true"), ("timeoutSeconds", String(Self.watchSeconds)),
            ],
            timeout: nil)
        var latest = version
        var lines = LineSplitter()
        var expired = false
        let failed = try await client.transport.receive(request) { bytes throws(PluginError) in
            for line in lines.feed(bytes) {
                switch WatchEvent(line: line) {
                case .object(let type, let pod)?:
                    latest = pod["metadata"]?["resourceVersion"]?.stringValue ?? latest
                    report(pod, type: type, hub)
                case .bookmark(let version)?:
                    if !version.isEmpty { latest = version }
                case .expired?:
                    expired = true
                    return false
                case .error(let code, let message)?:
                    throw PluginError(.unavailable, "the pod watch ended with \(code): \(message)")
                case nil:
                    continue
                }
            }
            return true
        }
        if let failed {
            if failed.status == 410 { return nil }
            throw KubernetesFailure.error(
                status: failed.status, body: failed.body, verb: "watch", resource: "pods in namespace \(namespace)", server: client.server)
        }
        return expired ? nil : latest
    }

    /// Reports one pod's status; a pod deleted before its container ended is a failure.
    private func report(_ pod: JSONValue, type: String, _ hub: BackendEventHub) {
        let metadata = pod["metadata"] ?? [:]
        let labels = (metadata["labels"]?.objectValue ?? [:]).compactMapValues(\.stringValue)
        guard let job = labels["job-name"] ?? labels["batch.kubernetes.io/job-name"] else { return }
        let handle = RuntimeHandle(json: ["job": .string(job), "namespace": .string(namespace)])
        let uid = metadata["uid"]?.stringValue ?? ""
        var status = pulls.status(PodStatus(pod: pod), uid: uid, handle: handle, labels: labels)
        if type == "DELETED" {
            pulls.forget(uid: uid)
            if !status.isFinal { status = RuntimeStatus(state: .failed, reason: "the pod was deleted before its container ended") }
        }
        hub.broadcast(.status(handle: handle, labels: labels, status: status))
    }
}
