//! Every file of `examples/`, embedded, so that `plugins test` runs a plugin against them on any
//! machine. A test fails when this list and the directory differ.

macro_rules! examples {
    ($($file:literal),* $(,)?) => {
        /// `(file name, YAML text)` of every example, in name order.
        pub const EXAMPLES: &[(&str, &str)] = &[$(($file, include_str!(concat!("../../../examples/", $file)))),*];
    };
}

examples!(
    "architecture-cluster.yaml",
    "autoscaling-cluster.yaml",
    "backup-file-pvc.yaml",
    "backup-gcs-workload-identity.yaml",
    "backup-minio-secret.yaml",
    "daily-backup.yaml",
    "dedicated-node-pool-cluster.yaml",
    "dev-cluster.yaml",
    "eks-cluster.yaml",
    "eks-spot-scheduling-cluster.yaml",
    "gke-autopilot-cluster.yaml",
    "gke-spot-cluster.yaml",
    "pod-anti-affinity-cluster.yaml",
    "production-cluster.yaml",
    "restore-from-backup.yaml",
    "service-mesh-consul-cluster.yaml",
    "service-mesh-istio-cluster.yaml",
    "service-mesh-istio-profile-cluster.yaml",
    "service-mesh-linkerd-cluster.yaml",
    "service-mesh-quickstart-cluster.yaml",
    "zone-spread-cluster.yaml",
);
