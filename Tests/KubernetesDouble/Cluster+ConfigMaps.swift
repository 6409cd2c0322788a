import BerthPluginKit
import Foundation

/// ConfigMaps: create, read, merge-patch, delete, and the garbage collector's part (a ConfigMap
/// whose owner Job is deleted goes with it).
extension Cluster {
    /// Admits and stores a ConfigMap; returns it as created.
    func createConfigMap(_ body: JSONValue, namespace requested: String) throws(APIStatus) -> JSONValue {
        guard requested == namespace else { throw APIStatus.notFound(.namespaces, requested) }
        var record = try ConfigMapRecord.admit(body, uid: UUID().uuidString.lowercased(), now: .nowToTheSecond())
        guard configMaps[record.meta.name] == nil else { throw APIStatus.alreadyExists(.configMaps, record.meta.name) }
        record.meta.resourceVersion = nextRevision()
        configMaps[record.meta.name] = record
        return record.json(namespace: namespace)
    }

    /// Applies a JSON merge patch (RFC 7386) to a ConfigMap's labels, owner references, `data`
    /// and `binaryData`; returns it as patched.
    func patchConfigMap(_ name: String, namespace requested: String, patch: JSONValue) throws(APIStatus) -> JSONValue {
        guard requested == namespace, var record = configMaps[name] else { throw APIStatus.notFound(.configMaps, name) }
        let merged = Self.mergePatch(record.json(namespace: namespace), patch)
        let admitted = try ConfigMapRecord.admit(merged, uid: record.meta.uid, now: record.meta.creationTimestamp)
        guard admitted.meta.name == name else {
            throw APIStatus.invalid(.configMaps, name, [.invalid("metadata.name", "\"\(admitted.meta.name)\"", "field is immutable")])
        }
        record.data = admitted.data
        record.binaryData = admitted.binaryData
        record.meta.labels = admitted.meta.labels
        let reader = BodyReader(kind: "ConfigMap")
        record.meta.ownerReferences = try reader.array(merged["metadata"]?["ownerReferences"], "ObjectMeta.metadata.ownerReferences") ?? []
        record.meta.resourceVersion = nextRevision()
        configMaps[name] = record
        return record.json(namespace: namespace)
    }

    /// Deletes a ConfigMap; returns it as last served.
    func deleteConfigMap(_ name: String, namespace requested: String) throws(APIStatus) -> JSONValue {
        guard requested == namespace, let record = configMaps.removeValue(forKey: name) else { throw APIStatus.notFound(.configMaps, name) }
        return record.json(namespace: namespace)
    }

    /// The garbage collector: deletes the ConfigMaps that `ownerUID` owns.
    func collectConfigMaps(ownedBy ownerUID: String) {
        for (name, record) in configMaps where record.meta.ownerReferences.contains(where: { $0["uid"]?.stringValue == ownerUID }) {
            configMaps[name] = nil
        }
    }

    /// The files `mounts` put in a container (absolute path, bytes, mode), from the ConfigMaps
    /// they name; or why the kubelet cannot mount them yet (a missing ConfigMap or key).
    func volumeFiles(_ mounts: [VolumeMount]) -> Result<[(path: String, data: [UInt8], mode: Int)], ContainerSpec.ConfigError> {
        var files: [(path: String, data: [UInt8], mode: Int)] = []
        for mount in mounts {
            guard case .configMap(let name, let items, let defaultMode, let optional) = mount.volume.source else { continue }
            let failure = "MountVolume.SetUp failed for volume \"\(mount.volume.name)\" : "
            guard let record = configMaps[name] else {
                if optional { continue }
                return .failure(ContainerSpec.ConfigError(message: failure + "configmap \"\(name)\" not found"))
            }
            var entries: [(path: String, data: [UInt8], mode: Int)] = []
            for item in items ?? record.keys.map({ (key: $0, path: $0, mode: nil) }) {
                guard let data = record.bytes(item.key) else {
                    return .failure(ContainerSpec.ConfigError(message: failure + "configmap references non-existent config key: \(item.key)"))
                }
                entries.append((item.path, data, item.mode ?? defaultMode))
            }
            let base = mount.mountPath.hasSuffix("/") ? String(mount.mountPath.dropLast()) : mount.mountPath
            if let subPath = mount.subPath {
                guard let entry = entries.first(where: { $0.path == subPath }) else {
                    return .failure(ContainerSpec.ConfigError(message: failure + "subPath \"\(subPath)\" is not in the volume"))
                }
                files.append((base, entry.data, entry.mode))
            } else {
                files += entries.map { (base + "/" + $0.path, $0.data, $0.mode) }
            }
        }
        return .success(files)
    }

    /// `target` with `patch` merged in (RFC 7386: objects merge member by member, `null`
    /// deletes, anything else replaces).
    static func mergePatch(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard case .object(let changes) = patch else { return patch }
        var result = target.objectValue ?? [:]
        for (key, value) in changes {
            if value == .null {
                result[key] = nil
            } else {
                result[key] = mergePatch(result[key] ?? .null, value)
            }
        }
        return .object(result)
    }
}
