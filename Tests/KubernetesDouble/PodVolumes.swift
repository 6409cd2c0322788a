import BerthPluginKit

/// A pod's volumes as the double understands them: ConfigMap volumes, which the kubelet turns
/// into files in the container before it starts. Other volume types are admitted (the API
/// server takes them) but a pod that mounts one cannot run on the double.
struct PodVolume: Sendable {
    /// Where a volume's files come from.
    enum Source: Sendable {
        /// `configMap`: the ConfigMap `name`'s keys (all, or `items` as key → path and mode).
        case configMap(name: String, items: [(key: String, path: String, mode: Int?)]?, defaultMode: Int, optional: Bool)
        /// Any other type (`emptyDir`, `hostPath` …), by its field name.
        case unsupported(String)
    }

    /// The volume's name.
    var name: String
    /// Its source.
    var source: Source
}

/// One `volumeMounts` entry of a container, with the volume it mounts.
struct VolumeMount: Sendable {
    /// The volume.
    var volume: PodVolume
    /// `mountPath`: an absolute path in the container.
    var mountPath: String
    /// `subPath`: one path inside the volume, mounted alone at `mountPath`.
    var subPath: String?
}

extension JobAdmission {
    /// Reads `spec.volumes` as the API server validates them: DNS-label names, unique, with a
    /// ConfigMap name when the source is a ConfigMap.
    func readVolumes(_ podSpec: [String: JSONValue], causes: inout [APIStatus.Cause]) throws(APIStatus) -> [String: PodVolume] {
        var volumes: [String: PodVolume] = [:]
        for (index, element) in (try reader.array(podSpec["volumes"], "PodSpec.spec.template.spec.volumes") ?? []).enumerated() {
            let field = "spec.template.spec.volumes[\(index)]"
            guard let volume = element.objectValue else { throw reader.typeError("Volume.\(field)", "object", element) }
            let name = try reader.string(volume["name"], "Volume.\(field).name") ?? ""
            if name.isEmpty {
                causes.append(.required("\(field).name"))
            } else if !Labels.isDNSLabel(name) {
                causes.append(.invalid("\(field).name", "\"\(name)\"", Labels.dnsLabelRules))
            } else if volumes[name] != nil {
                causes.append(APIStatus.Cause(reason: "FieldValueDuplicate", message: "Duplicate value: \"\(name)\"", field: "\(field).name"))
            }
            let source: PodVolume.Source
            if let configMap = try reader.object(volume["configMap"], "Volume.\(field).configMap") {
                let go = "ConfigMapVolumeSource.\(field).configMap"
                let mapName = try reader.string(configMap["name"], "\(go).name") ?? ""
                if mapName.isEmpty { causes.append(.required("\(field).configMap.name")) }
                var items: [(key: String, path: String, mode: Int?)]?
                if let list = try reader.array(configMap["items"], "\(go).items") {
                    items = []
                    for (itemIndex, item) in list.enumerated() {
                        let itemField = "\(field).configMap.items[\(itemIndex)]"
                        let key = try reader.string(item["key"], "KeyToPath.\(itemField).key") ?? ""
                        let path = try reader.string(item["path"], "KeyToPath.\(itemField).path") ?? ""
                        if key.isEmpty { causes.append(.required("\(itemField).key")) }
                        if path.isEmpty || path.hasPrefix("/") || path.split(separator: "/").contains("..") {
                            causes.append(.invalid("\(itemField).path", "\"\(path)\"", "must be a relative path without '..'"))
                        }
                        items?.append((key, path, try reader.int(item["mode"], "KeyToPath.\(itemField).mode")))
                    }
                }
                source = .configMap(
                    name: mapName, items: items, defaultMode: try reader.int(configMap["defaultMode"], "\(go).defaultMode") ?? 0o644,
                    optional: try reader.bool(configMap["optional"], "\(go).optional") ?? false)
            } else {
                source = .unsupported(volume.keys.sorted().first { $0 != "name" } ?? "emptyDir")
            }
            if !name.isEmpty { volumes[name] = PodVolume(name: name, source: source) }
        }
        return volumes
    }

    /// Reads a container's `volumeMounts`: each names a volume of the pod and an absolute
    /// mount path; a `subPath` is relative and has no `..`.
    func readMounts(
        _ container: [String: JSONValue], field: String, volumes: [String: PodVolume], causes: inout [APIStatus.Cause]
    ) throws(APIStatus) -> [VolumeMount] {
        var mounts: [VolumeMount] = []
        for (index, element) in (try reader.array(container["volumeMounts"], "Container.\(field).volumeMounts") ?? []).enumerated() {
            let mountField = "\(field).volumeMounts[\(index)]"
            let go = "VolumeMount.\(mountField)"
            guard element.objectValue != nil else { throw reader.typeError(go, "object", element) }
            let name = try reader.string(element["name"], "\(go).name") ?? ""
            let mountPath = try reader.string(element["mountPath"], "\(go).mountPath") ?? ""
            let subPath = try reader.string(element["subPath"], "\(go).subPath")
            if mountPath.isEmpty { causes.append(.required("\(mountField).mountPath")) }
            if let subPath, subPath.hasPrefix("/") || subPath.split(separator: "/").contains("..") {
                causes.append(.invalid("\(mountField).subPath", "\"\(subPath)\"", "must be a relative path without '..'"))
            }
            guard let volume = volumes[name] else {
                causes.append(APIStatus.Cause(reason: "FieldValueNotFound", message: "Not found: \"\(name)\"", field: "\(mountField).name"))
                continue
            }
            mounts.append(VolumeMount(volume: volume, mountPath: mountPath, subPath: subPath?.isEmpty == true ? nil : subPath))
        }
        return mounts
    }
}
