import BerthConfiguration
import BerthCore
import BerthServer
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The first admin token of a deployment, made by the first `berth serve` on a database with
/// no token at all, and written to `<data_dir>/admin.token` (mode 0600) for the CLI on this
/// machine. Later starts (and the other servers of the deployment) make none.
enum FirstToken {
    /// Makes the token when the Store has none; prints where it is.
    static func ensure(_ settings: BerthConfig, store: any Store, logger: Logger) async throws {
        let secret = TokenSecret(newFor: UUID())
        let token: APIToken?
        do {
            token = try await store.createFirstToken(NewAPIToken(
                id: secret.id, name: "initial-admin", owner: "admin", role: .admin, hash: secret.hash))
        } catch {
            Terminal.error("cannot create the first admin token: \(error.message)")
            throw ExitCodes.failure
        }
        guard let token else { return }
        let path = settings.adminTokenFile
        do {
            try write(secret.text + "\n", to: path)
        } catch {
            _ = try? await store.revokeToken(id: token.id)
            Terminal.error("cannot write the first admin token to \(path): \(error); it was revoked again")
            throw ExitCodes.failure
        }
        logger.notice("created the first admin token", metadata: ["token.id": "\(token.id)", "file": "\(path)"])
        Terminal.line("Created the first admin token; it is in \(path) (mode 0600). `berth token create` makes more.")
    }

    /// Writes `text` to a new file readable by its owner only (created 0600, never widened).
    private static func write(_ text: String, to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }
}
