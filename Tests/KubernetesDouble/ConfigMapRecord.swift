import BerthPluginKit

/// A `v1` ConfigMap as the double keeps it: text (`data`) and bytes (`binaryData`) by key.
struct ConfigMapRecord: Sendable {
    /// Its metadata.
    var meta: ObjectMeta
    /// `data`.
    var data: [String: String]
    /// `binaryData`, decoded.
    var binaryData: [String: [UInt8]]

    /// The API server's limit on a ConfigMap's keys and values together.
    static let maxBytes = 1_048_576

    /// The bytes of `key`, from either map.
    func bytes(_ key: String) -> [UInt8]? {
        data[key].map { Array($0.utf8) } ?? binaryData[key]
    }

    /// Every key, sorted.
    var keys: [String] { (Array(data.keys) + Array(binaryData.keys)).sorted() }

    /// The object as served.
    func json(namespace: String, typed: Bool = true) -> JSONValue {
        var object: [String: JSONValue] = ["metadata": meta.json(namespace: namespace)]
        if typed {
            object["kind"] = "ConfigMap"
            object["apiVersion"] = "v1"
        }
        if !data.isEmpty { object["data"] = JSONValue(data) }
        if !binaryData.isEmpty { object["binaryData"] = JSONValue(binaryData.mapValues { Base64.encode($0) }) }
        return .object(object)
    }

    /// Reads a ConfigMap body as the API server validates it: a DNS-subdomain name, labels,
    /// keys of `[-._a-zA-Z0-9]+` (at most 253, not `.` or `..`) in one map only, `binaryData`
    /// valid base64, and at most ``maxBytes`` in all.
    static func admit(_ body: JSONValue, uid: String, now: Timestamp) throws(APIStatus) -> ConfigMapRecord {
        let reader = BodyReader(kind: "ConfigMap")
        guard body.objectValue != nil else { throw reader.unusable("the body is not a JSON object") }
        let metadata = try reader.object(body["metadata"], "ConfigMap.metadata") ?? [:]
        let name = try reader.string(metadata["name"], "ObjectMeta.metadata.name") ?? ""
        let labels = try reader.stringMap(metadata["labels"], "ObjectMeta.metadata.labels") ?? [:]
        let data = try reader.stringMap(body["data"], "ConfigMap.data") ?? [:]
        let encoded = try reader.stringMap(body["binaryData"], "ConfigMap.binaryData") ?? [:]
        var binaryData: [String: [UInt8]] = [:]
        for (key, text) in encoded {
            guard let bytes = Base64.decode(text) else { throw reader.unusable("illegal base64 data in binaryData[\(key)]") }
            binaryData[key] = bytes
        }
        var causes: [APIStatus.Cause] = []
        if name.isEmpty {
            causes.append(.required("metadata.name", "name or generateName is required"))
        } else if !Labels.isSubdomain(name) {
            causes.append(.invalid("metadata.name", "\"\(name)\"", Labels.subdomainRules))
        }
        causes += Labels.causes(labels, field: "metadata.labels")
        for key in data.keys.sorted() + binaryData.keys.sorted() where !isKey(key) {
            causes.append(.invalid(data[key] != nil ? "data" : "binaryData", "\"\(key)\"", "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"))
        }
        for key in data.keys.sorted() where binaryData[key] != nil {
            causes.append(.invalid("data", "\"\(key)\"", "duplicate of key present in binaryData"))
        }
        let size = data.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count } + binaryData.reduce(0) { $0 + $1.key.utf8.count + $1.value.count }
        if size > maxBytes {
            causes.append(.invalid("", "\"\(name)\"", "Too long: must have at most \(maxBytes) bytes"))
        }
        guard causes.isEmpty else { throw APIStatus.invalid(.configMaps, name, causes) }
        return ConfigMapRecord(
            meta: ObjectMeta(name: name, uid: uid, creationTimestamp: now, labels: labels, annotations: [:]),
            data: data, binaryData: binaryData)
    }

    private static func isKey(_ key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 253 && key != "." && key != ".."
            && key.utf8.allSatisfy { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_")
                || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
    }
}
