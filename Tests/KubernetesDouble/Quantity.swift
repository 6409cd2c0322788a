import BerthPluginKit

/// A Kubernetes resource quantity (`500m`, `0.5`, `2`, `128Mi`, `1G`, `1e3`) as a number.
struct Quantity: Sendable, Hashable {
    /// The amount, in the resource's unit (cores, bytes).
    let value: Double

    /// What the API server says about a quantity it cannot parse.
    static let rules = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

    private static let suffixes: [String: Double] = [
        "": 1, "n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
        "Ki": 1024, "Mi": 1_048_576, "Gi": 1_073_741_824, "Ti": 1_099_511_627_776, "Pi": 1_125_899_906_842_624,
        "Ei": 1_152_921_504_606_846_976,
    ]

    /// The quantity written as `json` (a string, or a plain number); nil when it is not one.
    init?(_ json: JSONValue) {
        if let number = json.doubleValue {
            self.value = number
            return
        }
        guard let text = json.stringValue else { return nil }
        let numberEnd = text.firstIndex { !"+-0123456789.".contains($0) } ?? text.endIndex
        let suffix = String(text[numberEnd...])
        guard let number = Double(text[..<numberEnd]), !text[..<numberEnd].contains("e") else { return nil }
        if let scale = Self.suffixes[suffix] {
            self.value = number * scale
        } else if let first = suffix.first, first == "e" || first == "E", let exponent = Int(suffix.dropFirst()) {
            var scale = 1.0
            for _ in 0..<abs(exponent) { scale *= 10 }
            self.value = exponent < 0 ? number / scale : number * scale
        } else {
            return nil
        }
    }
}
