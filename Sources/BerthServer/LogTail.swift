import BerthCore
import BerthPluginKit

/// `tail=N` of the logs route: the last N lines of the stored output, read backwards page by
/// page so only the end is read, with the first chunk cut where its line begins.
///
/// Lines end with `\n`; the output's very last `\n` ends the last line rather than starting an
/// empty one, and a last line without `\n` counts as a line (as `tail -n` does).
enum LogTail {
    /// The most lines `tail` may ask for.
    static let maxLines = 100_000

    /// The last `lines` lines of what `query` selects (its stream and since filters), oldest
    /// chunk first.
    static func read(_ store: any Store, _ query: LogQuery, lines: Int) async throws -> [StoredLogChunk] {
        guard lines > 0 else { return [] }
        var query = query
        query.newestFirst = true
        var newestFirst: [StoredLogChunk] = []
        var counted = 0
        var atOutputEnd = true
        while true {
            let page = try await store.logs(query)
            for chunk in page {
                var index = chunk.bytes.count - 1
                while index >= 0 {
                    let byte = chunk.bytes[index]
                    defer { atOutputEnd = false }
                    if byte == UInt8(ascii: "\n"), !atOutputEnd {
                        counted += 1
                        if counted == lines {
                            var cut = chunk
                            cut.bytes = Array(chunk.bytes[(index + 1)...])
                            if !cut.bytes.isEmpty { newestFirst.append(cut) }
                            return newestFirst.reversed()
                        }
                    }
                    index -= 1
                }
                newestFirst.append(chunk)
            }
            guard page.count == query.limit, let oldest = page.last else { return newestFirst.reversed() }
            query.beforeSeq = oldest.seq
        }
    }

    /// The `seq` of the newest chunk `query` selects, 0 when there is none: where a follow
    /// after a tail goes on from.
    static func lastSeq(_ store: any Store, _ query: LogQuery) async throws -> Int64 {
        var query = query
        query.newestFirst = true
        query.limit = 1
        return try await store.logs(query).first?.seq ?? 0
    }
}
