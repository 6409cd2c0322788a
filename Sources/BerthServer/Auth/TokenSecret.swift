import Crypto
public import Foundation

/// The API token string and its hash.
///
/// A token reads `berth_<id>_<secret>`: `id` is the token's UUID as 32 lowercase hex digits
/// (not secret: it finds the record) and `secret` 32 random bytes (256 bits) in unpadded
/// base64url (43 characters). Only SHA-256 of the secret is stored; a presented secret is
/// hashed and compared with the stored hash in constant time.
public struct TokenSecret: Sendable, Hashable {
    /// The token's id.
    public let id: UUID
    /// The whole token, as given to its holder once.
    public let text: String

    private let secret: String

    private static let prefix = "berth_"
    private static let secretLength = 43

    /// A new token for `id`, from the system's random source.
    public init(newFor id: UUID) {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        self.id = id
        self.secret = Self.base64URL(bytes)
        self.text = Self.prefix + Self.hex(id) + "_" + secret
    }

    /// Parses a presented token; `nil` when it is not of the shape Berth issues.
    public init?(parsing text: String) {
        guard text.hasPrefix(Self.prefix) else { return nil }
        let rest = text.dropFirst(Self.prefix.count)
        let parts = rest.split(separator: "_", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 32, parts[1].count == Self.secretLength,
              parts[1].utf8.allSatisfy(Self.isBase64URL),
              let id = Self.uuid(hex: parts[0])
        else { return nil }
        self.id = id
        self.secret = String(parts[1])
        self.text = text
    }

    /// SHA-256 of the secret, lowercase hex: what the Store keeps.
    public var hash: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in SHA256.hash(data: Data(secret.utf8)) {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// Whether the secret's hash equals `storedHash`, comparing every byte whatever differs.
    public func matches(storedHash: String) -> Bool {
        let mine = Array(hash.utf8)
        let theirs = Array(storedHash.utf8)
        guard mine.count == theirs.count else { return false }
        var difference: UInt8 = 0
        for index in mine.indices { difference |= mine[index] ^ theirs[index] }
        return difference == 0
    }

    private static func isBase64URL(_ byte: UInt8) -> Bool {
        (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || (byte >= 48 && byte <= 57) || byte == 45 || byte == 95
    }

    private static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    private static func hex(_ id: UUID) -> String {
        id.uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    private static func uuid(hex: Substring) -> UUID? {
        guard hex.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else { return nil }
        let h = Array(hex)
        let dashed = String(h[0..<8]) + "-" + String(h[8..<12]) + "-" + String(h[12..<16]) + "-" + String(h[16..<20]) + "-" + String(h[20..<32])
        return UUID(uuidString: dashed)
    }
}
