import ArgumentParser
import BerthClient

/// Resolving an id the user typed, which may be a unique prefix of one.
enum IDs {
    /// `text` when it is a whole id; otherwise the one execution whose id starts with it.
    static func resolve(_ text: String, with client: BerthClient) async throws -> String {
        let lower = text.lowercased()
        if lower.count == 36 { return lower }
        guard lower.count >= 4 else {
            throw ClientError.api(APIProblem(status: 0, code: "invalid_id", detail: "'\(text)' is too short; give at least 4 characters of an id"))
        }
        var matches: [String] = []
        var after: String?
        for _ in 0..<50 {
            let page = try await client.list(BerthClient.ListFilter(limit: 200, after: after))
            matches += page.executions.map(\.id).filter { $0.hasPrefix(lower) }
            guard let next = page.next, !page.executions.isEmpty, matches.count < 2 else { break }
            after = next
        }
        switch matches.count {
        case 1: return matches[0]
        case 0: throw ClientError.api(APIProblem(status: 404, code: "execution_not_found", detail: "no execution id starts with '\(text)'"))
        default: throw ClientError.api(APIProblem(status: 0, code: "ambiguous_id", detail: "more than one execution id starts with '\(text)'"))
        }
    }
}
