import BerthPluginKit

/// How far along an execution says it is, read from one `::berth::progress {json}` object
/// (docs/outputs.md, "How progress is shown"). The object is free-form; these keys are read:
///
/// - the fraction done: `percent` (0 to 100), `fraction` (0 to 1), or a count of `step`,
///   `current` or `done` out of `of` or `total`;
/// - a label: `message`, `stage` or `status`, a string.
///
/// The dashboard reads the same keys (`DashboardScript`).
struct ProgressReport: Equatable, Sendable {
    /// From 0 to 1, when the object says how far along it is.
    var fraction: Double?
    /// `40/100` when the object counts steps.
    var count: String?
    /// The object's label.
    var label: String?

    init(_ object: JSONValue) {
        func number(_ key: String) -> Double? { object[key]?.doubleValue }
        let done = number("step") ?? number("current") ?? number("done")
        let total = number("of") ?? number("total")
        if let percent = number("percent") {
            fraction = percent / 100
        } else if let value = number("fraction") {
            fraction = value
        } else if let done, let total, total > 0 {
            fraction = done / total
        }
        if let done, let total {
            count = "\(Self.compact(done))/\(Self.compact(total))"
        }
        fraction = fraction.map { min(max($0, 0), 1) }
        label = ["message", "stage", "status"].lazy.compactMap { object[$0]?.stringValue }.first
    }

    /// `40` for 40.0, `2.5` for 2.5.
    private static func compact(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
