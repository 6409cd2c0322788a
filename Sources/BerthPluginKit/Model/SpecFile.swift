/// A file a plugin places in the runtime object before the attempt starts (the execution's
/// inline config, for one). Part of ``ExecutionSpec/files``.
public struct SpecFile: Sendable, Hashable, JSONRepresentable {
    /// The absolute path inside the container, such as `/berth/in/config.json`.
    public var path: String
    /// The file's contents.
    public var data: [UInt8]
    /// The permission bits (default 0644).
    public var mode: Int

    /// A file at `path` holding `data`.
    public init(path: String, data: [UInt8], mode: Int = 0o644) {
        self.path = path
        self.data = data
        self.mode = mode
    }

    public init(json: JSONValue) throws(JSONError) {
        let reader = try JSONObjectReader(json, path: "file")
        path = try reader.string("path")
        if let problem = Self.pathProblem(path) { throw JSONError(location: "file.path", reason: problem) }
        guard let data = Base64.decode(try reader.string("data")) else {
            throw JSONError(location: "file.data", reason: "is not valid base64")
        }
        self.data = data
        let mode = try reader.optionalInt("mode") ?? 0o644
        guard (0...0o7777).contains(mode) else { throw JSONError(location: "file.mode", reason: "must be from 0 to 0o7777") }
        self.mode = Int(mode)
    }

    public var json: JSONValue {
        ["path": .string(path), "data": .string(Base64.encode(data)), "mode": .number(Double(mode))]
    }

    /// Why `path` cannot be a file's path in a container, or `nil`: it must be absolute, name a
    /// file (not `/` or a folder), and hold no `.` or `..` part and no NUL.
    public static func pathProblem(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return "must be an absolute path, found '\(path)'" }
        guard !path.hasSuffix("/") else { return "must name a file, not a folder: '\(path)'" }
        guard !path.utf8.contains(0) else { return "must not contain NUL" }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        guard !parts.isEmpty, !parts.contains(where: { $0 == "." || $0 == ".." }) else {
            return "must not hold '.' or '..' parts: '\(path)'"
        }
        return nil
    }
}

/// What the host asks a plugin to collect after an attempt ended: a folder of its runtime
/// object, as a tar archive (``Backend/collect(_:)``).
public struct CollectRequest: Sendable, Hashable, JSONRepresentable {
    /// The attempt's runtime object.
    public var handle: RuntimeHandle
    /// The absolute path of the folder, such as `/berth/out`.
    public var path: String

    /// A request for `path` in `handle`'s object.
    public init(handle: RuntimeHandle, path: String) {
        self.handle = handle
        self.path = path
    }

    public init(json: JSONValue) throws(JSONError) {
        let reader = try JSONObjectReader(json, path: "collect")
        guard let handle = reader.value("handle") else { throw JSONError(location: "collect.handle", reason: "is required") }
        self.handle = RuntimeHandle(json: handle)
        path = try reader.string("path")
        guard path.hasPrefix("/"), !path.utf8.contains(0) else {
            throw JSONError(location: "collect.path", reason: "must be an absolute path")
        }
    }

    public var json: JSONValue { ["handle": handle.json, "path": .string(path)] }
}

/// One part of a collected tar archive, in order (an item of the `collect` stream).
public struct ArchivePart: Sendable, Hashable, JSONRepresentable {
    /// The archive's next bytes.
    public var data: [UInt8]

    /// A part holding `data`.
    public init(data: [UInt8]) {
        self.data = data
    }

    public init(json: JSONValue) throws(JSONError) {
        let reader = try JSONObjectReader(json, path: "part")
        guard let data = Base64.decode(try reader.string("data")) else {
            throw JSONError(location: "part.data", reason: "is not valid base64")
        }
        self.data = data
    }

    public var json: JSONValue { ["data": .string(Base64.encode(data))] }
}
