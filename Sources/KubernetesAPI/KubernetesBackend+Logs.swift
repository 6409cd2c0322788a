import BerthHTTP
public import BerthPluginKit

extension KubernetesBackend {
    /// The output of the Job's pod from `pods/{name}/log` with the kubelet's timestamps. A
    /// followed stream waits for the container to start and ends when it ends. `since` is
    /// sent as `sinceTime` (whole seconds, as the API takes it) and applied exactly here.
    public func logs(_ request: LogRequest) -> PluginStream<LogChunk> {
        let (output, continuation) = PluginStream<LogChunk>.makeStream()
        let task = Task {
            do throws(PluginError) {
                let job = try Self.jobName(request.handle, host: host)
                guard let pod = try await startedPod(ofJob: job, wait: request.follow) else {
                    continuation.finish()
                    return
                }
                switch settings.logStreams {
                case .combined:
                    try await readLogs(pod: pod, request: request, stream: nil) { continuation.yield($0) }
                case .split:
                    let failure = await withTaskGroup(of: PluginError?.self) { group in
                        for stream in [LogStream.stdout, .stderr] {
                            group.addTask {
                                do throws(PluginError) {
                                    try await self.readLogs(pod: pod, request: request, stream: stream) { continuation.yield($0) }
                                    return nil
                                } catch {
                                    return error
                                }
                            }
                        }
                        var first: PluginError?
                        for await error in group where first == nil { first = error }
                        return first
                    }
                    if let failure { throw failure }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return output
    }

    /// The name of the Job's pod once its container has started (or ended); nil when it has
    /// not and `wait` is false. Waiting ends with an error if the attempt fails before starting.
    private func startedPod(ofJob job: String, wait: Bool) async throws(PluginError) -> String? {
        while true {
            if let pod = try await pod(ofJob: job), let name = pod["metadata"]?["name"]?.stringValue {
                let status = status(of: pod)
                if status.state == .running || status.state == .exited { return name }
                if status.state == .failed { return nil }  // it never ran: there is no output
            }
            guard wait else { return nil }
            do {
                try await Task.sleep(for: .milliseconds(250))
            } catch {
                throw PluginError(.internal, "host \(host): waiting for the pod of Job \(job) was cancelled")
            }
        }
    }

    private func readLogs(
        pod: String, request: LogRequest, stream: LogStream?, deliver: @Sendable (LogChunk) -> Void
    ) async throws(PluginError) {
        var query = [("container", JobTemplate.containerName), ("timestamps", "true"), ("follow", request.follow ? "true" : "false")]
        if let since = request.since {
            let seconds = since.nanosecondsSinceEpoch / 1_000_000_000
            query.append(("sinceTime", Timestamp(nanosecondsSinceEpoch: seconds * 1_000_000_000).rfc3339))
        }
        if let stream { query.append(("stream", stream == .stdout ? "Stdout" : "Stderr")) }
        let http = try client.request(
            "GET", KubernetesClient.path("pods", namespace: namespace, name: pod, subresource: "log"), query: query,
            timeout: request.follow ? nil : client.requestTimeout)
        var lines = KubernetesLogLines(stream: stream ?? .stdout)
        func pass(_ chunks: [LogChunk]) {
            for chunk in chunks where request.since.map({ chunk.timestamp >= $0 }) ?? true { deliver(chunk) }
        }
        let failed = try await client.transport.receive(http) { bytes in
            pass(lines.feed(bytes))
            return true
        }
        if let failed {
            throw KubernetesFailure.error(
                status: failed.status, body: failed.body, verb: "get", resource: "pods/\(pod)/log in namespace \(namespace)",
                server: client.server)
        }
        pass(lines.finish())
    }
}
