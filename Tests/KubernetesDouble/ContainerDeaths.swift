import BerthHTTP
import BerthPluginKit

/// Follows the engine's `die` events for the double's containers and tells the cluster, so a
/// pod's end is seen without polling. Reconnects, resuming from the last event seen.
enum ContainerDeaths {
    /// Runs until cancelled.
    static func follow(docker: DockerClient, cluster: Cluster, since start: Timestamp) async {
        var since = start
        while !Task.isCancelled {
            var splitter = LineSplitter()
            do {
                for try await part in docker.deaths(since: since) {
                    guard case .body(let bytes) = part else { continue }
                    for line in splitter.feed(bytes) {
                        guard let event = try? JSONValue(parsing: line), let id = event["Actor"]?["ID"]?.stringValue ?? event["id"]?.stringValue
                        else { continue }
                        if let nanos = event["timeNano"]?.doubleValue { since = Timestamp(nanosecondsSinceEpoch: Int64(nanos)) }
                        await cluster.containerDied(id)
                    }
                }
            } catch {
                // The engine went away: reconnect below.
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
    }
}
