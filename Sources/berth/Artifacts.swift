import ArgumentParser
import BerthClient
import Foundation

/// `berth artifacts`: the outputs collected from an execution, as a tar archive.
struct ArtifactsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "artifacts",
        abstract: "Download the outputs collected from an execution (its /berth/out) as a tar archive.",
        discussion: """
            On Docker hosts everything the container wrote under /berth/out is collected when it \
            ends. The archive's entries are named out/…; unpack with 'tar -xf FILE'. Writes to \
            stdout unless -o is given (and refuses to write an archive to a terminal).
            """)

    @OptionGroup var client: ClientOptions

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Write the archive to this file.", valueName: "file"))
    var output: String?

    @Argument(help: "The execution's id, or a unique prefix of it.")
    var id: String

    func run() async throws {
        if output == nil, isatty(STDOUT_FILENO) != 0 {
            throw ValidationError("the archive is binary: give -o FILE, or redirect stdout")
        }
        let api = client.client()
        let archive = try await withClientErrors {
            try await api.artifacts(of: try await IDs.resolve(id, with: api))
        }
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: Data(archive)) else {
                throw ValidationError("cannot write \(output)")
            }
            Terminal.line("\(output): \(archive.count) bytes")
        } else {
            FileHandle.standardOutput.write(Data(archive))
        }
    }
}
