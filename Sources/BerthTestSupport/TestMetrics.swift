public import CoreMetrics
import Prometheus

/// The test process's metrics backend: Prometheus's default registry, as `berth serve` has it.
public enum TestMetrics {
    private static let bootstrapped: Bool = {
        MetricsSystem.bootstrap(PrometheusMetricsFactory())
        return true
    }()

    /// Bootstraps swift-metrics with Prometheus once per process (a second bootstrap traps).
    public static func bootstrap() {
        _ = bootstrapped
    }
}
