import Foundation
import TarFormat
import Testing

@Suite("Tar archives")
struct TarFormatTests {
    @Test("what the writer writes, the scanner reads back, in chunks of any size")
    func roundTrip() throws {
        var writer = TarWriter()
        let big = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try writer.addFile(path: "berth/in/config.json", contents: Array(#"{"a":1}"#.utf8))
        try writer.addFile(path: "berth/in/data.bin", contents: big, mode: 0o600)
        try writer.addFile(path: "berth/empty", contents: [])
        let longName = "deep/" + String(repeating: "d", count: 90) + "/" + String(repeating: "f", count: 95)
        try writer.addFile(path: longName, contents: [1, 2, 3])
        let archive = writer.finish()
        #expect(archive.count % 512 == 0)
        for chunkSize in [1, 7, 511, 512, 513, 100_000] {
            var scanner = TarScanner(maxContents: 1 << 20) { _ in true }
            var entries: [TarScanner.Entry] = []
            var offset = 0
            while offset < archive.count {
                entries += try scanner.feed(Array(archive[offset..<min(offset + chunkSize, archive.count)]))
                offset += chunkSize
            }
            #expect(scanner.isFinished)
            let files = entries.filter(\.isFile)
            #expect(files.map(\.path) == ["berth/in/config.json", "berth/in/data.bin", "berth/empty", longName])
            #expect(files[0].contents == Array(#"{"a":1}"#.utf8))
            #expect(files[1].contents == big)
            #expect(files[2].contents == [])
            #expect(files[3].contents == [1, 2, 3])
            #expect(entries.filter { !$0.isFile }.map(\.path) == ["berth/", "berth/in/", "deep/", "deep/" + String(repeating: "d", count: 90) + "/"])
        }
    }

    @Test("only wanted files within the limit are kept")
    func wantedOnly() throws {
        var writer = TarWriter()
        try writer.addFile(path: "out/result.json", contents: Array("{}".utf8))
        try writer.addFile(path: "out/model.bin", contents: [UInt8](repeating: 7, count: 2000))
        try writer.addFile(path: "out/big.json", contents: [UInt8](repeating: 32, count: 2000))
        var scanner = TarScanner(maxContents: 1000) { $0.hasSuffix(".json") }
        let entries = try scanner.feed(writer.finish())
        #expect(entries.map(\.path) == ["out/", "out/result.json", "out/model.bin", "out/big.json"])
        #expect(entries.map { $0.contents != nil } == [false, true, false, false])
    }

    @Test("reads GNU tar's own archives: PAX and long names")
    func readsGNUTar() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tar-\(UUID().uuidString)")
        let long = String(repeating: "n", count: 150)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("out"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("{\"x\": 1}".utf8).write(to: folder.appendingPathComponent("out/result.json"))
        try Data("long".utf8).write(to: folder.appendingPathComponent("out/\(long)"))
        for format in ["gnu", "pax"] {
            let archive = folder.appendingPathComponent("a-\(format).tar")
            let tar = Process()
            tar.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
            tar.arguments = ["--format=\(format)", "-C", folder.path, "-cf", archive.path, "out"]
            try tar.run()
            tar.waitUntilExit()
            #expect(tar.terminationStatus == 0)
            var scanner = TarScanner(maxContents: 100) { _ in true }
            let entries = try scanner.feed(Array(try Data(contentsOf: archive)))
            let files = Dictionary(uniqueKeysWithValues: entries.filter(\.isFile).map { ($0.path, $0.contents ?? []) })
            #expect(files["out/result.json"] == Array("{\"x\": 1}".utf8), "\(format)")
            #expect(files["out/\(long)"] == Array("long".utf8), "\(format)")
        }
    }

    @Test("refuses paths that leave the archive or do not fit; refuses input that is not tar")
    func refusals() {
        var writer = TarWriter()
        for path in ["/etc/passwd", "../x", "a/../../b", "", "./a", String(repeating: "x", count: 101)] {
            #expect(throws: TarError.self) { try writer.addFile(path: path, contents: []) }
        }
        var scanner = TarScanner(maxContents: 10) { _ in true }
        #expect(throws: TarError.self) { _ = try scanner.feed([UInt8](repeating: 65, count: 512)) }
    }
}
