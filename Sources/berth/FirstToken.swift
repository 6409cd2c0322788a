import BerthConfiguration
import BerthCore
import BerthSecrets
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
            // The file of a previous database would be stale: replace it.
            unlink(path)
            guard try PrivateFile.create(path, text: secret.text + "\n") else { throw POSIXError(.EEXIST) }
        } catch {
            _ = try? await store.revokeToken(id: token.id)
            Terminal.error("cannot write the first admin token to \(path): \(error); it was revoked again")
            throw ExitCodes.failure
        }
        logger.notice("created the first admin token", metadata: ["token.id": "\(token.id)", "file": "\(path)"])
        Terminal.line("Created the first admin token; it is in \(path) (mode 0600). `berth token create` makes more.")
    }
}
