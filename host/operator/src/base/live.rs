//! What the reconcile reads of a live StatefulSet for scaling, readiness and rollouts, decoded
//! without the rest: a whole decoded StatefulSet is about 21 KiB, most of it the pod template
//! that none of these steps reads.

use serde::Deserialize;

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LiveStatefulSet {
    pub metadata: LiveMetadata,
    pub spec: LiveSpec,
    pub status: Option<LiveStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LiveMetadata {
    pub name: Option<String>,
    pub resource_version: Option<String>,
    pub generation: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct LiveSpec {
    pub replicas: Option<i32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LiveStatus {
    pub observed_generation: Option<i64>,
    pub ready_replicas: Option<i32>,
    pub update_revision: Option<String>,
}

/// The resourceVersion alone, of a write whose answer no later step reads; the rest of the
/// written object is skipped unparsed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct WrittenVersion {
    pub metadata: LiveMetadata,
}

impl WrittenVersion {
    pub fn resource_version(&self) -> Option<u64> {
        self.metadata.resource_version()
    }
}

impl LiveMetadata {
    /// The resourceVersion as a number, for telling a write from its echo.
    pub fn resource_version(&self) -> Option<u64> {
        self.resource_version.as_deref()?.parse().ok()
    }
}

impl LiveStatefulSet {
    pub fn name(&self) -> Option<&str> {
        self.metadata.name.as_deref()
    }

    pub fn resource_version(&self) -> Option<u64> {
        self.metadata.resource_version()
    }

    pub fn ready_replicas(&self) -> i32 {
        self.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0)
    }

    /// The revision pods are updated to, once the StatefulSet controller has seen the current
    /// spec: before that, the revision it reports is the previous spec's.
    pub fn update_revision(&self) -> Option<&str> {
        let status = self.status.as_ref()?;
        let seen = status.observed_generation.is_some() && status.observed_generation >= self.metadata.generation;
        seen.then_some(status.update_revision.as_deref()).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_fields_from_a_whole_statefulset_and_skips_the_rest() {
        let text = r#"{"apiVersion":"apps/v1","kind":"StatefulSet",
            "metadata":{"name":"r-data","resourceVersion":"42","generation":3,"labels":{"a":"b"},
                "managedFields":[{"manager":"antfly-operator","fieldsV1":{"f:spec":{}}}]},
            "spec":{"replicas":5,"template":{"spec":{"containers":[{"name":"antfly"}]}}},
            "status":{"replicas":5,"readyReplicas":4,"observedGeneration":3,"updateRevision":"r-data-7"}}"#;
        let live: LiveStatefulSet = serde_json::from_str(text).expect("decodes");
        assert_eq!(live.name(), Some("r-data"));
        assert_eq!(live.resource_version(), Some(42));
        assert_eq!(live.spec.replicas, Some(5));
        assert_eq!(live.ready_replicas(), 4);
        assert_eq!(live.update_revision(), Some("r-data-7"));
    }

    #[test]
    fn the_revision_is_unknown_until_the_current_spec_is_observed() {
        let mut live = LiveStatefulSet {
            metadata: LiveMetadata { generation: Some(4), ..LiveMetadata::default() },
            status: Some(LiveStatus {
                observed_generation: Some(3),
                update_revision: Some("old".into()),
                ..LiveStatus::default()
            }),
            ..LiveStatefulSet::default()
        };
        assert_eq!(live.update_revision(), None);
        live.status.as_mut().expect("status").observed_generation = Some(4);
        assert_eq!(live.update_revision(), Some("old"));
        live.status = None;
        assert_eq!((live.update_revision(), live.ready_replicas()), (None, 0));
    }

    #[test]
    fn a_new_statefulset_without_status_decodes() {
        let live: LiveStatefulSet = serde_json::from_str(r#"{"metadata":{"name":"x"},"spec":{}}"#).expect("decodes");
        assert_eq!((live.spec.replicas, live.status), (None, None));
    }
}
