/// A Kubernetes API server double for the tests (being written).
public enum KubernetesDoublePlaceholder {}
