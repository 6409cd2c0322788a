/// One line of the results table.
struct Row {
    var benchmark: String
    var figure: String
    var berth: String
    var baseline: String
    var ratio: String
    var goal: String
    var verdict: String

    init(_ benchmark: String, _ figure: String, berth: String, baseline: String = "—", ratio: String = "—", goal: String = "—", met: Bool? = nil) {
        self.benchmark = benchmark
        self.figure = figure
        self.berth = berth
        self.baseline = baseline
        self.ratio = ratio
        self.goal = goal
        verdict = met.map { $0 ? "met" : "MISSED" } ?? ""
    }

    /// The rows as an aligned table with a header.
    static func table(_ rows: [Row]) -> String {
        let header = Row("benchmark", "figure", berth: "berth", baseline: "baseline", ratio: "ratio", goal: "goal")
        let all = [header] + rows
        let columns: [(Row) -> String] = [\.benchmark, \.figure, \.berth, \.baseline, \.ratio, \.goal, \.verdict]
        let widths = columns.map { column in all.map { column($0).count }.max() ?? 0 }
        return all.map { row in
            zip(columns, widths).map { column, width in
                let text = column(row)
                return text + String(repeating: " ", count: width - text.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
