import BerthPluginKit
import Foundation
import Testing

/// docs/plugins.md against the code: every JSON example decodes with the kit's type for its
/// shape and encodes back to exactly the same JSON, no JSON example goes unchecked, and the
/// error code table lists exactly the codes of `PluginError.Code` and of the C header.
@Suite("docs/plugins.md")
struct PluginDocumentationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func text(_ path: String) throws -> String { try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8) }

    /// The kit's reading and writing of each shape the page names.
    static let shapes: [String: @Sendable (JSONValue) throws -> JSONValue] = [
        "PluginError": { try PluginError(json: $0).json },
        "PluginSettings": { try PluginSettings(abiJSON: $0).json },
        "Health": { try Health(json: $0).json },
        "Capacity": { try Capacity(json: $0).json },
        "ExecutionSpec": { try ExecutionSpec(json: $0).json },
        "RuntimeHandle": { try RuntimeHandle(json: $0).json },
        "RuntimeStatus": { try RuntimeStatus(json: $0).json },
        "StopRequest": { try StopRequest(json: $0).json },
        "ListRequest": { try ListRequest(json: $0).json },
        "ListResponse": { try ListResponse(json: $0).json },
        "LogRequest": { try LogRequest(json: $0).json },
        "LogChunk": { try LogChunk(json: $0).json },
        "BackendEvent": { try BackendEvent(json: $0).json },
        "CollectRequest": { try CollectRequest(json: $0).json },
        "ArchivePart": { try ArchivePart(json: $0).json },
    ]

    /// Each ```json block of the page with the shape its `<!-- shape: X -->` line names (nil
    /// when it has none).
    static func examples() throws -> [(shape: String?, json: String)] {
        let lines = try text("docs/plugins.md").components(separatedBy: "\n")
        var found: [(String?, String)] = []
        var index = 0
        while index < lines.count {
            if lines[index] == "```json" {
                var marker: String?
                if index > 0, let match = lines[index - 1].firstMatch(of: /^<!-- shape: (\w+) -->$/) { marker = String(match.output.1) }
                var body: [String] = []
                index += 1
                while index < lines.count, lines[index] != "```" {
                    body.append(lines[index])
                    index += 1
                }
                found.append((marker, body.joined(separator: "\n")))
            }
            index += 1
        }
        return found
    }

    @Test("every JSON example has a shape, decodes with it and encodes back unchanged")
    func examplesRoundTrip() throws {
        let examples = try Self.examples()
        var seen: Set<String> = []
        for example in examples {
            let shape = try #require(example.shape, "a JSON example without <!-- shape: … -->:\n\(example.json)")
            let read = try #require(Self.shapes[shape], "unknown shape \(shape)")
            let value = try JSONValue(parsing: example.json)
            #expect(try read(value) == value, "\(shape) does not encode back to the page's JSON:\n\(example.json)")
            seen.insert(shape)
        }
        #expect(seen == Set(Self.shapes.keys), "shapes without an example: \(Set(Self.shapes.keys).subtracting(seen))")
    }

    @Test("the error code table lists exactly the codes of the kit and of berth_plugin.h")
    func errorCodes() throws {
        let page = try Self.text("docs/plugins.md")
        let table = page[page.range(of: "`code` is one of:")!.upperBound...].prefix { _ in true }
        let documented = Set(table.split(separator: "\n").prefix(while: { !$0.hasPrefix("A code outside") })
            .compactMap { $0.firstMatch(of: /^\| `(\w+)` \|/).map { String($0.output.1) } })
        let kit = Set(PluginError.Code.all.map(\.rawValue))
        let header = Set(try Self.text("Sources/CBerthPlugin/include/berth_plugin.h")
            .matches(of: /#define BERTH_ERROR_\w+ "(\w+)"/).map { String($0.output.1) })
        #expect(documented == kit)
        #expect(header == kit)
    }
}
