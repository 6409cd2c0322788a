import BerthCore
import BerthPluginKit
import Foundation
import Hummingbird
import Prometheus

/// `GET /metrics`, in Prometheus's text format (0.0.4).
///
/// Two kinds of series: those read at the scrape (executions by state and host and the queue's
/// depth from the Store, each host's health from its plugin) and those Berth records as it
/// runs through swift-metrics into the process's Prometheus registry (scheduling latency,
/// plugin call latency and errors, log bytes stored), which `berth serve` bootstraps. The
/// series are listed in docs/operations.md.
enum MetricsEndpoint {
    /// The answer to one scrape.
    static func response(_ context: ServerContext) async throws -> Response {
        var text = ""
        let counts = try await context.store.executionCounts().sorted { ($0.host, $0.state.rawValue) < ($1.host, $1.state.rawValue) }
        text += "# HELP berth_executions Executions by state and host (the host placed on, else the one asked for, else empty).\n"
        text += "# TYPE berth_executions gauge\n"
        for row in counts {
            text += "berth_executions{state=\"\(row.state.rawValue)\",host=\"\(escape(row.host))\"} \(row.count)\n"
        }
        let queued = counts.filter { $0.state == .queued }.reduce(0) { $0 + $1.count }
        text += "# HELP berth_queue_depth Executions waiting to be placed.\n# TYPE berth_queue_depth gauge\nberth_queue_depth \(queued)\n"
        text += "# HELP berth_host_up Whether a configured host answers its health check (1) or not (0).\n# TYPE berth_host_up gauge\n"
        let records = await context.plugins.hosts
        let up = await SystemStatus.eachHost(records) { await SystemStatus.health(of: $0).ok }
        for (record, ok) in zip(records, up) {
            text += "berth_host_up{host=\"\(escape(record.configuration.name))\"} \(ok ? 1 : 0)\n"
        }
        var bytes = Array(text.utf8)
        PrometheusMetricsFactory.defaultRegistry.emit(into: &bytes)
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A label value as the text format wants it: `\`, `"` and newlines escaped.
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }
}
