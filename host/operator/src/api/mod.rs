//! The `antfly.io/v1` API: AntflyCluster, AntflyBackup and AntflyRestore.

mod backup;
mod cluster;
mod restore;
mod schema;

pub use backup::*;
pub use cluster::*;
pub use restore::*;

use kube::CustomResourceExt;

/// All CRDs of the API group, in the order `crd` prints and `crds/` stores them.
pub fn crds() -> Vec<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> {
    vec![AntflyCluster::crd(), AntflyBackup::crd(), AntflyRestore::crd()]
}

/// The CRDs as multi-document YAML, exactly as committed in `crds/`.
pub fn crds_yaml() -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd)?);
    }
    Ok(out)
}
