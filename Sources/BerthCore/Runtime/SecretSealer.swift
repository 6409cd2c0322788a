public import BerthPluginKit

/// Seals secret values before they are stored and opens them when an attempt starts.
///
/// `berth serve` uses AES-256-GCM (`BerthSecrets.AESGCMSealer`); every server of a deployment
/// must hold the same key (its ``keyID`` is recorded in the Store and checked at start-up).
public protocol SecretSealer: Sendable {
    /// A short, non-secret id of the key.
    var keyID: String { get }
    /// `plaintext` encrypted and authenticated, with its nonce.
    func seal(_ plaintext: [UInt8]) throws(SecretError) -> [UInt8]
    /// The plaintext of a sealed value; fails when it was sealed with another key or altered.
    func open(_ sealed: [UInt8]) throws(SecretError) -> [UInt8]
}

/// A secret could not be sealed or opened; the message never holds the secret.
public struct SecretError: Error, Sendable, CustomStringConvertible {
    /// What went wrong.
    public let description: String

    /// An error.
    public init(_ description: String) { self.description = description }
}

extension SecretSealer {
    /// A secret environment (name → value), sealed as one JSON object.
    public func seal(environment: [String: String]) throws(SecretError) -> [UInt8] {
        try seal(JSONValue(environment).serialized())
    }

    /// The secret environment in `sealed`.
    public func openEnvironment(_ sealed: [UInt8]) throws(SecretError) -> [String: String] {
        let bytes = try open(sealed)
        guard let object = (try? JSONValue(parsing: bytes))?.objectValue else {
            throw SecretError("the sealed environment is not a JSON object")
        }
        var environment: [String: String] = [:]
        for (name, value) in object {
            guard let text = value.stringValue else { throw SecretError("the sealed environment holds a non-string value for \(name)") }
            environment[name] = text
        }
        return environment
    }
}
