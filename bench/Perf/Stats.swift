import BerthTestSupport
import Foundation

/// The table's number formats, over ``DurationStats``.
enum Stats {
    /// The `fraction` percentile of `samples`.
    static func percentile(_ samples: [Duration], _ fraction: Double) -> Duration { DurationStats.percentile(samples, fraction) }

    /// `duration` in seconds.
    static func seconds(_ duration: Duration) -> Double { DurationStats.seconds(duration) }

    /// `duration` in milliseconds.
    static func milliseconds(_ duration: Duration) -> Double { seconds(duration) * 1000 }

    /// `value` with `digits` decimals.
    static func format(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }
}
