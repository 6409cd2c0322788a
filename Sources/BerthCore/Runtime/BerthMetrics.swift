import Metrics

/// What Berth records as it runs, through swift-metrics: nothing until the executable
/// bootstraps a backend (`berth serve` bootstraps Prometheus and serves it at `GET /metrics`;
/// docs/operations.md lists every series).
enum BerthMetrics {
    /// One finished plugin call: `berth_plugin_call_duration_seconds{host,operation}`, and
    /// `berth_plugin_call_errors_total{host,operation}` when it failed.
    static func pluginCall(host: String, operation: String, duration: Duration, failed: Bool) {
        let dimensions = [("host", host), ("operation", operation)]
        Timer(label: "berth_plugin_call_duration_seconds", dimensions: dimensions).record(duration: duration)
        if failed { Counter(label: "berth_plugin_call_errors_total", dimensions: dimensions).increment() }
    }

    /// An execution placed on a host: `berth_scheduling_latency_seconds{host}`, the time from
    /// its submission (or from when a retry made it eligible again) to its placement.
    static func scheduled(host: String, waited seconds: Double) {
        Timer(label: "berth_scheduling_latency_seconds", dimensions: [("host", host)]).recordSeconds(max(seconds, 0))
    }

    /// Log bytes written to the Store: `berth_log_bytes_stored_total`.
    static func logBytesStored(_ bytes: Int) {
        guard bytes > 0 else { return }
        Counter(label: "berth_log_bytes_stored_total").increment(by: bytes)
    }
}
