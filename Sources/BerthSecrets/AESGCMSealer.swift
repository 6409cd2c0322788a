public import BerthCore
import Crypto
import Foundation


/// AES-256-GCM with a 32-byte key: `seal` gives nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes).
public struct AESGCMSealer: SecretSealer {
    /// The key's bytes (a `SymmetricKey` is made per call: it is not `Sendable`).
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }
    /// The first 16 hex digits of SHA-256("berth-secrets-key-id" ‖ key): names the key, reveals nothing.
    public let keyID: String

    /// A sealer with these 32 key bytes.
    public init(keyBytes: [UInt8]) throws(SecretError) {
        guard keyBytes.count == 32 else { throw SecretError("a secrets key is 32 bytes, found \(keyBytes.count)") }
        self.keyBytes = keyBytes
        let digest = SHA256.hash(data: Array("berth-secrets-key-id".utf8) + keyBytes)
        keyID = digest.prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// The key in `path` (32 bytes, raw or as base64 text); a missing file is made with a new
    /// random key, mode 0600 (when two servers race to make it, one makes it and both read it).
    /// - Throws: ``SecretError`` naming the file.
    public static func load(file path: String) throws(SecretError) -> AESGCMSealer {
        if !FileManager.default.fileExists(atPath: path) {
            var generator = SystemRandomNumberGenerator()
            let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let created: Bool
            do {
                created = try PrivateFile.create(path, text: Data(bytes).base64EncodedString() + "\n")
            } catch {
                throw SecretError("cannot create the secrets key file \(path): \(error)")
            }
            if created { return try AESGCMSealer(keyBytes: bytes) }
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SecretError("cannot read the secrets key file \(path)")
        }
        if data.count == 32 { return try AESGCMSealer(keyBytes: [UInt8](data)) }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let decoded = Data(base64Encoded: text), decoded.count == 32 else {
            throw SecretError("the secrets key file \(path) must hold 32 bytes, raw or in base64")
        }
        return try AESGCMSealer(keyBytes: [UInt8](decoded))
    }

    public func seal(_ plaintext: [UInt8]) throws(SecretError) -> [UInt8] {
        do {
            guard let combined = try AES.GCM.seal(plaintext, using: key).combined else { throw SecretError("AES-GCM gave no sealed box") }
            return [UInt8](combined)
        } catch let error as SecretError {
            throw error
        } catch {
            throw SecretError("cannot seal a secret: \(error)")
        }
    }

    public func open(_ sealed: [UInt8]) throws(SecretError) -> [UInt8] {
        do {
            return [UInt8](try AES.GCM.open(try AES.GCM.SealedBox(combined: sealed), using: key))
        } catch {
            throw SecretError("cannot open a sealed secret: it was sealed with another key (key id \(keyID) here) or altered")
        }
    }
}
