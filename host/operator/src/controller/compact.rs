//! A cached child in compact form: the object as the compact JSON text the API server sent,
//! decoded only when a reconcile reads it, beside the few metadata fields the caches and the
//! watch triggers read on every event (name, namespace, uid, resourceVersion, owners).
//!
//! k8s-openapi's types hold every optional field inline, and even a decoded `ObjectMeta` with
//! its label and annotation maps weighs about 2 KiB; the caches are the operator's whole
//! per-cluster memory.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// `K` as the caches hold it. Its [`Resource::meta`] carries only the identity and the owner
/// references: labels and annotations are read from [`Compact::decode`] or [`Compact::to_value`].
pub struct Compact<K> {
    identity: ObjectMeta,
    /// The whole object but its `managedFields`.
    json: Box<str>,
    kind: PhantomData<fn() -> K>,
}

/// A cached object whose JSON no longer decodes as its kind: it was cached without a typed
/// decode, so a malformed object fails the reconcile that reads it, not the whole watch.
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
        serde_json::from_str(&self.json).map_err(|source| self.decode_error(source))
    }

    /// The whole object as a JSON value.
    pub fn to_value(&self) -> Result<Value, DecodeError> {
        serde_json::from_str(&self.json).map_err(|source| self.decode_error(source))
    }

    fn decode_error(&self, source: serde_json::Error) -> DecodeError {
        DecodeError { kind: K::kind(&()).into_owned(), name: self.identity.name.clone().unwrap_or_default(), source }
    }
}

impl<'de, K: Resource<DynamicType = ()>> Deserialize<'de> for Compact<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut object = Map::<String, Value>::deserialize(deserializer)?;
        // The items of a list carry no type of their own.
        object.entry("apiVersion").or_insert_with(|| Value::from(K::api_version(&())));
        object.entry("kind").or_insert_with(|| Value::from(K::kind(&())));
        let metadata = object.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        if let Some(metadata) = metadata.as_object_mut() {
            // Written by every field manager on every write; no reconcile reads it.
            metadata.remove("managedFields");
        }
        let full = ObjectMeta::deserialize(&*metadata).map_err(D::Error::custom)?;
        let identity = ObjectMeta {
            name: full.name,
            namespace: full.namespace,
            uid: full.uid,
            resource_version: full.resource_version,
            owner_references: full.owner_references,
            ..ObjectMeta::default()
        };
        let json = serde_json::to_string(&object).map_err(D::Error::custom)?.into_boxed_str();
        Ok(Self { identity, json, kind: PhantomData })
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
        &self.identity
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.identity
    }
}

impl<K> Clone for Compact<K> {
    fn clone(&self) -> Self {
        Self { identity: self.identity.clone(), json: self.json.clone(), kind: PhantomData }
    }
}

impl<K> fmt::Debug for Compact<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compact").field("identity", &self.identity).field("json", &self.json).finish()
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::apps::v1::StatefulSet;
    use serde_json::json;

    use super::*;
    use crate::build::drift::first_drift;

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
    fn keeps_the_object_as_compact_text_and_only_the_identity_decoded() {
        let compact: Compact<StatefulSet> = serde_json::from_value(served()).expect("decodes");
        assert!(!compact.json.contains(' ') && !compact.json.contains("managedFields"));
        let identity = compact.meta();
        assert_eq!(identity.name.as_deref(), Some("r-data"));
        assert_eq!(identity.resource_version.as_deref(), Some("7"));
        assert!(identity.labels.is_none() && identity.annotations.is_none());
    }

    #[test]
    fn a_listed_item_gets_its_type_back() {
        let mut listed = served();
        let object = listed.as_object_mut().expect("an object");
        object.remove("apiVersion");
        object.remove("kind");
        let compact: Compact<StatefulSet> = serde_json::from_value(listed).expect("decodes");
        let value = compact.to_value().expect("a value");
        assert_eq!((value["apiVersion"].as_str(), value["kind"].as_str()), (Some("apps/v1"), Some("StatefulSet")));
    }

    /// A built StatefulSet as a list returns it: defaulted by the server, with managed fields
    /// and status, and without its type.
    fn as_listed(built: &StatefulSet) -> Value {
        let mut stored = serde_json::to_value(built).expect("json");
        stored["metadata"]["uid"] = json!("u1");
        stored["metadata"]["managedFields"] = json!([{"manager": "antfly-operator", "operation": "Apply"}]);
        stored["spec"]["revisionHistoryLimit"] = json!(10);
        let pod = &mut stored["spec"]["template"]["spec"];
        pod["dnsPolicy"] = json!("ClusterFirst");
        pod["schedulerName"] = json!("default-scheduler");
        let container = &mut pod["containers"][0];
        container["terminationMessagePath"] = json!("/dev/termination-log");
        container["readinessProbe"]["timeoutSeconds"] = json!(1);
        stored["status"] = json!({"replicas": 3, "updateRevision": "r-1"});
        let object = stored.as_object_mut().expect("an object");
        object.remove("apiVersion");
        object.remove("kind");
        stored
    }

    #[test]
    fn the_drift_check_sees_through_server_defaults_but_not_a_real_change() {
        let cluster = crate::render::parse_cluster(crate::render::EMBEDDED_DEFAULT).expect("parses");
        let built = crate::render::desired(&cluster, &[], &crate::compose::NoPlugins)
            .expect("builds")
            .resources
            .data_statefulset;
        let desired = serde_json::to_value(&built).expect("json");
        let cached: Compact<StatefulSet> = serde_json::from_value(as_listed(&built)).expect("decodes");
        assert_eq!(first_drift(&desired, &cached.to_value().expect("a value")), None);

        let mut scaled = as_listed(&built);
        scaled["spec"]["replicas"] = json!(7);
        let cached: Compact<StatefulSet> = serde_json::from_value(scaled).expect("decodes");
        assert_eq!(first_drift(&desired, &cached.to_value().expect("a value")).as_deref(), Some("spec.replicas"));
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_when_listed() {
        let refused = serde_json::from_value::<Compact<StatefulSet>>(json!(["not", "an", "object"]));
        assert!(refused.is_err());
    }
}
