import Foundation

/// Sample statistics and the table's number formats.
enum Stats {
    /// The `fraction` percentile of `samples` (nearest rank).
    static func percentile(_ samples: [Duration], _ fraction: Double) -> Duration {
        let sorted = samples.sorted()
        guard !sorted.isEmpty else { return .zero }
        let rank = min(sorted.count - 1, max(0, Int((fraction * Double(sorted.count)).rounded(.up)) - 1))
        return sorted[rank]
    }

    /// `duration` in seconds.
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// `duration` in milliseconds.
    static func milliseconds(_ duration: Duration) -> Double { seconds(duration) * 1000 }

    /// `value` with `digits` decimals.
    static func format(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }
}
