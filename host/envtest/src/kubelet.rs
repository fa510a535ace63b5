//! The kubelet's part, played by tests: there is no kubelet, so pods made by the
//! controller-manager stay Pending until a test reports them Running and Ready, or not.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

/// Reports pod `name` Running, with its Ready condition `ready` and pod IP `ip`, as a kubelet
/// would after the readiness probe passed (or failed).
pub async fn report_pod(pods: &Api<Pod>, name: &str, ready: bool, ip: &str) -> Result<Pod, kube::Error> {
    let status = if ready { "True" } else { "False" };
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    let patch = json!({
        "status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                {"type": "ContainersReady", "status": status, "lastTransitionTime": now},
                {"type": "Ready", "status": status, "lastTransitionTime": now},
            ],
        }
    });
    pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await
}
