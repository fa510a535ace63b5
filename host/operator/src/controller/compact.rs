//! A cached child in compact form: its metadata decoded (owner references route watch events,
//! labels and annotations are read on every reconcile), everything else kept as the compact JSON
//! text the API server sent, decoded only when a reconcile reads it.
//!
//! k8s-openapi's types hold every optional field inline, so a decoded StatefulSet weighs about
//! six times its JSON; the caches are the operator's whole per-cluster memory.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// `K` as the caches hold it.
pub struct Compact<K> {
    metadata: ObjectMeta,
    /// Every top-level field but `apiVersion`, `kind` and `metadata`, as one JSON object.
    body: Box<str>,
    kind: PhantomData<fn() -> K>,
}

/// A cached object whose JSON no longer decodes as its kind: a bug, since it decoded when the
/// watch delivered it.
#[derive(Debug, thiserror::Error)]
#[error("the cached {kind} {name} does not decode: {source}")]
pub struct DecodeError {
    kind: String,
    name: String,
    source: serde_json::Error,
}

impl<K: Resource<DynamicType = ()> + DeserializeOwned> Compact<K> {
    /// The whole object, decoded.
    pub fn decode(&self) -> Result<K, DecodeError> {
        serde_json::from_str(&self.to_json()?).map_err(|source| self.decode_error(source))
    }

    /// The whole object as a JSON value.
    pub fn to_value(&self) -> Result<Value, DecodeError> {
        serde_json::from_str(&self.to_json()?).map_err(|source| self.decode_error(source))
    }

    /// The whole object's JSON text: type, metadata and the kept body, spliced.
    fn to_json(&self) -> Result<String, DecodeError> {
        let metadata = serde_json::to_string(&self.metadata).map_err(|source| self.decode_error(source))?;
        let rest = self.body.strip_prefix('{').unwrap_or(&self.body);
        let separator = if rest.starts_with('}') { "" } else { "," };
        Ok(format!(
            r#"{{"apiVersion":{},"kind":{},"metadata":{metadata}{separator}{rest}"#,
            Value::from(K::api_version(&())),
            Value::from(K::kind(&())),
        ))
    }

    fn decode_error(&self, source: serde_json::Error) -> DecodeError {
        DecodeError { kind: K::kind(&()).into_owned(), name: self.metadata.name.clone().unwrap_or_default(), source }
    }
}

impl<'de, K> Deserialize<'de> for Compact<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut fields = Map::<String, Value>::deserialize(deserializer)?;
        let mut metadata: ObjectMeta = match fields.remove("metadata") {
            Some(metadata) => serde_json::from_value(metadata).map_err(D::Error::custom)?,
            None => ObjectMeta::default(),
        };
        // Written by every field manager on every write; no reconcile reads it.
        metadata.managed_fields = None;
        fields.remove("apiVersion");
        fields.remove("kind");
        let body = serde_json::to_string(&fields).map_err(D::Error::custom)?.into_boxed_str();
        Ok(Self { metadata, body, kind: PhantomData })
    }
}

impl<K: Resource<DynamicType = ()>> Resource for Compact<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(_: &()) -> Cow<'_, str> {
        K::kind(&())
    }

    fn group(_: &()) -> Cow<'_, str> {
        K::group(&())
    }

    fn version(_: &()) -> Cow<'_, str> {
        K::version(&())
    }

    fn plural(_: &()) -> Cow<'_, str> {
        K::plural(&())
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl<K> Clone for Compact<K> {
    fn clone(&self) -> Self {
        Self { metadata: self.metadata.clone(), body: self.body.clone(), kind: PhantomData }
    }
}

impl<K> fmt::Debug for Compact<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compact").field("metadata", &self.metadata).field("body", &self.body).finish()
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use serde_json::json;

    use super::*;

    fn served() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {
                "name": "r-data", "namespace": "db", "uid": "u1", "resourceVersion": "7",
                "labels": {"app.kubernetes.io/instance": "r"},
                "annotations": {"antfly.io/applied-hash": "abc"},
                "managedFields": [{"manager": "antfly-operator", "operation": "Apply"}],
                "ownerReferences": [{"apiVersion": "antfly.io/v1", "kind": "AntflyCluster", "name": "r", "uid": "c1", "controller": true}]
            },
            "spec": {"replicas": 3, "serviceName": "r-data", "selector": {}, "template": {}},
            "status": {"replicas": 3, "readyReplicas": 2, "updateRevision": "r-data-1"}
        })
    }

    #[test]
    fn decodes_to_the_object_it_was_built_from_without_managed_fields() {
        let compact: Compact<StatefulSet> = serde_json::from_value(served()).expect("decodes");
        let mut expected: StatefulSet = serde_json::from_value(served()).expect("decodes");
        expected.metadata.managed_fields = None;
        assert_eq!(compact.decode().expect("decodes"), expected);
        assert!(compact.meta().managed_fields.is_none());
        assert_eq!(compact.meta().owner_references.as_ref().expect("owners")[0].uid, "c1");
    }

    #[test]
    fn its_json_value_is_the_object_without_managed_fields() {
        let compact: Compact<StatefulSet> = serde_json::from_value(served()).expect("decodes");
        let mut expected = served();
        expected["metadata"].as_object_mut().expect("metadata").remove("managedFields");
        assert_eq!(compact.to_value().expect("a value"), expected);
    }

    #[test]
    fn decodes_kinds_that_require_their_type_and_metadata() {
        let served = json!({
            "apiVersion": "antfly.io/v1", "kind": "AntflyCluster",
            "metadata": {"name": "r", "namespace": "db"}, "spec": {}
        });
        let compact: Compact<crate::api::AntflyCluster> = serde_json::from_value(served.clone()).expect("decodes");
        let expected: crate::api::AntflyCluster = serde_json::from_value(served).expect("decodes");
        assert_eq!(compact.decode().expect("decodes").metadata, expected.metadata);
    }

    #[test]
    fn an_object_of_metadata_only_decodes() {
        let compact: Compact<k8s_openapi::api::core::v1::ConfigMap> =
            serde_json::from_value(json!({"metadata": {"name": "c"}})).expect("decodes");
        assert_eq!(compact.decode().expect("decodes").metadata.name.as_deref(), Some("c"));
    }

    #[test]
    fn keeps_the_body_as_compact_text() {
        let compact: Compact<StatefulSet> = serde_json::from_value(served()).expect("decodes");
        assert!(!compact.body.contains(' ') && !compact.body.contains("metadata") && !compact.body.contains("apps/v1"));
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_when_listed() {
        let refused = serde_json::from_value::<Compact<StatefulSet>>(json!(["not", "an", "object"]));
        assert!(refused.is_err());
    }
}
