import Foundation

/// When an execution gets another attempt, and after how long.
///
/// An attempt is retried when it was `lost` (its runtime object vanished), when the engine
/// failed to start or run it for a reason of its own (`unavailable`, `timeout`, `internal`),
/// or when it exited with a code listed in ``onExitCodes``, as long as fewer than
/// ``maxAttempts`` attempts were made. Any other non-zero exit is final. The n-th retry waits
/// ``backoffSeconds`` × 2ⁿ⁻¹, at most ``maxBackoffSeconds``.
///
/// An attempt that provably never started on its engine (the start call failed in transit and
/// the engine, once reachable, has no object for it) is not counted: it is tried again under
/// the same number, without waiting.
public struct RetryPolicy: Sendable, Hashable, Codable {
    /// The allowed range of ``maxAttempts``.
    public static let maxAttemptsRange: ClosedRange<Int> = 1...100
    /// The allowed range of ``backoffSeconds``.
    public static let backoffRange: ClosedRange<Double> = 0...3600
    /// No retry wait is longer than this, in seconds.
    public static let maxBackoffSeconds: Double = 3600

    /// How many attempts an execution may make, the first included (1: no retry).
    public var maxAttempts: Int
    /// Non-zero exit codes that count as a failure worth another attempt.
    public var onExitCodes: Set<Int32>
    /// The wait before the first retry, in seconds; it doubles for each retry after.
    public var backoffSeconds: Double

    /// A policy.
    /// - Parameters:
    ///   - maxAttempts: How many attempts, the first included.
    ///   - onExitCodes: Exit codes that are retried.
    ///   - backoffSeconds: The wait before the first retry.
    public init(maxAttempts: Int = 1, onExitCodes: Set<Int32> = [], backoffSeconds: Double = 2) {
        self.maxAttempts = maxAttempts
        self.onExitCodes = onExitCodes
        self.backoffSeconds = backoffSeconds
    }

    /// No retries: one attempt.
    public static let none = RetryPolicy()

    /// Whether an execution that has made `attemptsMade` attempts may make another.
    public func allowsAnother(after attemptsMade: Int) -> Bool {
        attemptsMade < maxAttempts
    }

    /// How long to wait before the attempt after `attemptsMade` attempts.
    public func backoff(after attemptsMade: Int) -> Double {
        let doublings = Double(max(attemptsMade - 1, 0))
        return min(backoffSeconds * pow(2, min(doublings, 30)), Self.maxBackoffSeconds)
    }

    /// Whether a plugin error code describes a failure of the engine (worth another attempt)
    /// rather than of the execution's own spec, image or credentials.
    public static func isEngineFailure(code: String) -> Bool {
        ["unavailable", "timeout", "internal", "engine_error"].contains(code)
    }
}
