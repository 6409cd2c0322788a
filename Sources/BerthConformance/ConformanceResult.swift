import Foundation

/// The outcome of one conformance check.
public struct ConformanceResult: Sendable, Hashable {
    /// Passed, failed, or not applicable to this plugin.
    public enum Outcome: String, Sendable, Hashable {
        /// The plugin behaved as the ABI says.
        case passed = "ok"
        /// It did not (or the check could not run because an earlier one failed).
        case failed = "FAIL"
        /// The check does not apply to this plugin (the detail says why); never counted as passed.
        case skipped = "skip"
    }

    /// The check's name (`lifecycle`, `logs`, …).
    public var name: String
    /// How it went.
    public var outcome: Outcome
    /// What was seen, or what went wrong.
    public var detail: String
    /// How long the check took.
    public var seconds: Double

    /// The line `berth plugin conformance` prints: `ok    lifecycle: … (2.1 s)`.
    public var line: String {
        let tag = outcome.rawValue.padding(toLength: 6, withPad: " ", startingAt: 0)
        return "\(tag)\(name): \(detail) (\((seconds * 10).rounded() / 10) s)"
    }
}

/// A check's expectation that did not hold.
struct ConformanceFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A check that does not apply to the plugin under test.
struct ConformanceSkip: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
