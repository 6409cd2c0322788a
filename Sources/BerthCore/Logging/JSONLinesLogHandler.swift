public import BerthPluginKit
import Foundation
public import Logging

/// A swift-log handler that writes one JSON object per line (`log: {format: json}`), for log
/// collectors that parse JSON: `time` (RFC 3339, UTC), `level`, `label`, `message`, `source`,
/// and each metadata key as a field of its own (`execution`, `host`, …). A metadata key that is
/// one of those five names is written as `metadata.<key>` instead.
public struct JSONLinesLogHandler: LogHandler {
    /// The handler's metadata, merged under each message's own.
    public var metadata: Logger.Metadata = [:]
    /// The lowest level written.
    public var logLevel: Logger.Level = .info
    private let label: String
    private let write: @Sendable ([UInt8]) -> Void

    private static let reserved: Set = ["time", "level", "label", "message", "source"]

    /// A handler for the logger `label`, writing each line (with its newline) through `write`
    /// (standard error by default).
    public init(label: String, write: @escaping @Sendable ([UInt8]) -> Void = JSONLinesLogHandler.standardError) {
        self.label = label
        self.write = write
    }

    /// Writes a line to standard error in one `write`, so lines of concurrent loggers do not mix.
    public static let standardError: @Sendable ([UInt8]) -> Void = { line in
        FileHandle.standardError.write(Data(line))
    }

    /// The metadata value under `key`.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one line for `event`, with its `error` when it carries one and the metadata has none.
    public func log(event: LogEvent) {
        var fields: [String: JSONValue] = [
            "time": .string(Timestamp.now().rfc3339), "level": .string(event.level.rawValue), "label": .string(label),
            "message": .string(event.message.description), "source": .string(event.source),
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            fields[Self.reserved.contains(key) ? "metadata." + key : key] = Self.json(value)
        }
        if let error = event.error, fields["error"] == nil { fields["error"] = .string("\(error)") }
        write(JSONValue.object(fields).serialized() + [UInt8(ascii: "\n")])
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): .string(text)
        case .stringConvertible(let convertible): .string(convertible.description)
        case .array(let values): .array(values.map(json))
        case .dictionary(let entries): .object(entries.mapValues(json))
        }
    }
}
