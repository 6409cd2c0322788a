public import BerthPluginKit
public import KubernetesAPI

/// Kubernetes as a Berth host: each attempt a `batch/v1` Job in one namespace, driven over
/// HTTPS with the credentials of a kubeconfig context or of the pod's service account
/// (docs/kubernetes.md). All of the logic is `KubernetesBackend`; this is its export.
extension KubernetesBackend: BackendPlugin {
    public static let name = "kubernetes"
    public static let version = "1.0.0"
    public static let settingsSchema = KubernetesSettings.schema

    public static func open(_ settings: PluginSettings) async throws(PluginError) -> KubernetesBackend {
        try KubernetesBackend(settings: KubernetesSettings(settings))
    }
}

/// The plugin's one exported symbol.
@_cdecl("berth_plugin_v1")
public func berthPluginV1() -> UnsafeRawPointer { PluginExport.descriptor(for: KubernetesBackend.self) }
