//! A cached child in compact form: the object as the compact JSON text the API server sent,
//! compressed, and decoded only when a reconcile reads it, beside the few metadata fields the
//! caches and the watch triggers read on every event (name, namespace, uid, resourceVersion,
//! owners).
//!
//! k8s-openapi's types hold every optional field inline, and even a decoded `ObjectMeta` with
//! its label and annotation maps weighs about 2 KiB; the caches are the operator's whole
//! per-cluster memory. The text is compressed (LZ4) against a dictionary per kind: the objects
//! the operator builds for the production example, which has every optional child. The children of every cluster
//! share most of their text with those (field names, labels, probes, ports), so each one
//! costs little more than what makes it differ.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use serde::de::{DeserializeOwned, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::api::AntflyCluster;
use crate::base::APPLIED_HASH_ANNOTATION;
use crate::build::ClusterResources;

/// `K` as the caches hold it. Its [`Resource::meta`] carries only the identity and the owner
/// references: labels and annotations are read from [`Compact::decode`], [`Compact::metadata`]
/// or [`Compact::to_value`], the applied hash from [`Compact::applied_hash`].
pub struct Compact<K> {
    identity: ObjectMeta,
    /// The operator's [`APPLIED_HASH_ANNOTATION`], kept apart: a one-entry map in the identity
    /// would cost a whole B-tree node.
    applied_hash: Option<Box<str>>,
    /// Whether this version is the one this process's own apply wrote (see
    /// [`Compact::mark_own_write`]).
    own_write: AtomicBool,
    /// The whole object but its `managedFields`, as compact JSON compressed against
    /// [`dictionary`]`(K)`, its length prepended.
    compressed: Box<[u8]>,
    kind: PhantomData<fn() -> K>,
}

/// A cached object that no longer decodes as its kind: it was cached without a typed decode,
/// so a malformed object fails the reconcile that reads it, not the whole watch.
#[derive(Debug, thiserror::Error)]
#[error("the cached {kind} {name} does not decode: {source}")]
pub struct DecodeError {
    kind: String,
    name: String,
    source: DecodeFailure,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeFailure {
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error("its compressed text is corrupt: {0}")]
    Decompress(#[from] lz4_flex::block::DecompressError),
}

impl<K: Resource<DynamicType = ()> + DeserializeOwned> Compact<K> {
    /// The whole object, decoded.
    pub fn decode(&self) -> Result<K, DecodeError> {
        self.read()
    }

    /// The whole object as a JSON value.
    pub fn to_value(&self) -> Result<Value, DecodeError> {
        self.read()
    }

    /// The object's whole metadata (labels, annotations, finalizers, ...), without decoding
    /// the rest.
    pub fn metadata(&self) -> Result<ObjectMeta, DecodeError> {
        #[derive(Deserialize)]
        struct Metadata {
            #[serde(default)]
            metadata: ObjectMeta,
        }
        self.read::<Metadata>().map(|object| object.metadata)
    }

    /// Only the fields `T` names, the rest skipped unparsed.
    pub fn read<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        let parsed = self.text().map_err(DecodeFailure::from).and_then(|text| Ok(serde_json::from_slice(&text)?));
        parsed.map_err(|source| DecodeError {
            kind: K::kind(&()).into_owned(),
            name: self.identity.name.clone().unwrap_or_default(),
            source,
        })
    }
}

impl<K: Resource<DynamicType = ()>> Compact<K> {
    /// The operator's hash of what it last applied to this object, if any.
    pub fn applied_hash(&self) -> Option<&str> {
        self.applied_hash.as_deref()
    }

    /// Marks this version as written by this process: the API server answered one of its
    /// applies with this resourceVersion. Its fields are what that apply made them, so an
    /// apply of the same desired object has no drift to look for; another writer's change is
    /// a new version, and is checked.
    pub fn mark_own_write(&self) {
        self.own_write.store(true, Ordering::Relaxed);
    }

    pub fn is_own_write(&self) -> bool {
        self.own_write.load(Ordering::Relaxed)
    }

    /// The size of the compressed text, for the benchmarks.
    pub fn compressed_bytes(&self) -> usize {
        self.compressed.len()
    }

    /// The object's JSON text.
    fn text(&self) -> Result<Vec<u8>, lz4_flex::block::DecompressError> {
        lz4_flex::block::decompress_size_prepended_with_dict(&self.compressed, dictionary(&K::kind(&())))
    }
}

/// The example whose children are the dictionaries: PDBs and a public API Service included.
const DICTIONARY_CLUSTER: &str = include_str!("../../../../examples/production-cluster.yaml");

/// The text objects of `kind` are compressed against: the objects of that kind the operator
/// builds for [`DICTIONARY_CLUSTER`], as JSON. Fixed for the life of the process, since every
/// cached object depends on it; empty for kinds the operator does not build.
fn dictionary(kind: &str) -> &'static [u8] {
    static DICTIONARIES: LazyLock<BTreeMap<String, Vec<u8>>> = LazyLock::new(|| {
        // Decoded plainly: the YAML input parser would keep every CRD schema in memory.
        let Ok(cluster) = serde_saphyr::from_str::<AntflyCluster>(DICTIONARY_CLUSTER) else { return BTreeMap::new() };
        let built = crate::pipeline::desired_state(&cluster, &[], &crate::compose::NoPlugins);
        built.map(|desired| dictionaries(&cluster, &desired.resources)).unwrap_or_default()
    });
    DICTIONARIES.get(kind).map_or(&[], Vec::as_slice)
}

fn dictionaries(cluster: &AntflyCluster, built: &ClusterResources) -> BTreeMap<String, Vec<u8>> {
    fn add<K: Resource<DynamicType = ()> + Serialize>(dictionaries: &mut BTreeMap<String, Vec<u8>>, object: &K) {
        let text = dictionaries.entry(K::kind(&()).into_owned()).or_default();
        // Serialising a built object cannot fail; a missing part only costs compression.
        let _ = serde_json::to_writer(text, object);
    }
    let mut dictionaries = BTreeMap::new();
    add(&mut dictionaries, cluster);
    add(&mut dictionaries, &built.config_map);
    built.service_account.iter().for_each(|account| add(&mut dictionaries, account));
    for service in [&built.metadata_service, &built.data_service].into_iter().chain(&built.public_api_service) {
        add(&mut dictionaries, service);
    }
    add(&mut dictionaries, &built.metadata_statefulset);
    add(&mut dictionaries, &built.data_statefulset);
    for pdb in built.metadata_pdb.iter().chain(&built.data_pdb) {
        add(&mut dictionaries, pdb);
    }
    dictionaries
}

impl<'de, K: Resource<DynamicType = ()>> Deserialize<'de> for Compact<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let ServedObject(mut object) = ServedObject::deserialize(deserializer)?;
        // The items of a list carry no type of their own.
        object.entry("apiVersion").or_insert_with(|| Value::from(K::api_version(&())));
        object.entry("kind").or_insert_with(|| Value::from(K::kind(&())));
        let metadata = object.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
        let full = ObjectMeta::deserialize(&*metadata).map_err(D::Error::custom)?;
        // Read on every apply: whether the object needs one at all.
        let applied_hash = full.annotations.and_then(|mut all| all.remove(APPLIED_HASH_ANNOTATION)).map(Box::from);
        let identity = ObjectMeta {
            name: full.name,
            namespace: full.namespace,
            uid: full.uid,
            resource_version: full.resource_version,
            owner_references: full.owner_references,
            ..ObjectMeta::default()
        };
        let text = serde_json::to_vec(&object).map_err(D::Error::custom)?;
        let compressed = lz4_flex::block::compress_prepend_size_with_dict(&text, dictionary(&K::kind(&())));
        let compressed = compressed.into_boxed_slice();
        Ok(Self { identity, applied_hash, own_write: AtomicBool::new(false), compressed, kind: PhantomData })
    }
}

/// An object as the API server sent it, but its `metadata.managedFields`: written by every
/// field manager on every write and read by no reconcile, it is skipped without being parsed
/// into values (for a StatefulSet it is about as large as the spec).
struct ServedObject(Map<String, Value>);

/// An object's `metadata`, without its `managedFields`.
struct ServedMetadata(Map<String, Value>);

impl<'de> Deserialize<'de> for ServedObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(WithoutManagedFields(Level::Object)).map(Self)
    }
}

impl<'de> Deserialize<'de> for ServedMetadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(WithoutManagedFields(Level::Metadata)).map(Self)
    }
}

#[derive(Clone, Copy)]
enum Level {
    Object,
    Metadata,
}

/// A JSON object's fields as values, at either level of the path to `managedFields`.
struct WithoutManagedFields(Level);

impl<'de> Visitor<'de> for WithoutManagedFields {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut fields: A) -> Result<Self::Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = fields.next_key::<String>()? {
            match (self.0, key.as_str()) {
                (Level::Metadata, "managedFields") => {
                    fields.next_value::<IgnoredAny>()?;
                }
                (Level::Object, "metadata") => {
                    let ServedMetadata(metadata) = fields.next_value()?;
                    object.insert(key, Value::Object(metadata));
                }
                _ => {
                    let value = fields.next_value()?;
                    object.insert(key, value);
                }
            }
        }
        Ok(object)
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
        Self {
            identity: self.identity.clone(),
            applied_hash: self.applied_hash.clone(),
            own_write: AtomicBool::new(self.own_write.load(Ordering::Relaxed)),
            compressed: self.compressed.clone(),
            kind: PhantomData,
        }
    }
}

impl<K> fmt::Debug for Compact<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compact")
            .field("identity", &self.identity)
            .field("applied_hash", &self.applied_hash)
            .field("compressed_bytes", &self.compressed.len())
            .finish()
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
        let text = String::from_utf8(compact.text().expect("decompresses")).expect("utf-8");
        assert!(!text.contains(' ') && !text.contains("managedFields"), "{text}");
        let identity = compact.meta();
        assert_eq!(identity.name.as_deref(), Some("r-data"));
        assert_eq!(identity.resource_version.as_deref(), Some("7"));
        assert!(identity.labels.is_none() && identity.annotations.is_none());
        assert_eq!(compact.applied_hash(), Some("abc"));
    }

    #[test]
    fn its_whole_metadata_decodes_without_the_rest() {
        let compact: Compact<StatefulSet> = serde_json::from_value(served()).expect("decodes");
        let metadata = compact.metadata().expect("metadata");
        assert_eq!(metadata.annotations.expect("annotations")["antfly.io/applied-hash"], "abc");
        assert_eq!(metadata.labels.expect("labels")["app.kubernetes.io/instance"], "r");
        assert!(metadata.managed_fields.is_none());
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
    fn every_kind_the_operator_builds_has_a_dictionary() {
        for kind in ["AntflyCluster", "ConfigMap", "Service", "StatefulSet", "PodDisruptionBudget"] {
            assert!(dictionary(kind).len() > 200, "{kind}: {} bytes", dictionary(kind).len());
        }
        assert!(dictionary("Pod").is_empty());
    }

    #[test]
    fn another_clusters_children_compress_to_a_fraction_of_their_text() {
        let cluster = crate::render::parse_cluster(crate::render::EMBEDDED_DEFAULT).expect("parses");
        let built = crate::render::desired(&cluster, &[], &crate::compose::NoPlugins).expect("builds").resources;
        let cached: Compact<StatefulSet> = serde_json::from_value(as_listed(&built.data_statefulset)).expect("decodes");
        let text = cached.text().expect("decompresses").len();
        assert!(cached.compressed.len() * 4 < text, "{} of {text} bytes", cached.compressed.len());
        let service: Compact<k8s_openapi::api::core::v1::Service> =
            serde_json::from_value(serde_json::to_value(&built.data_service).expect("json")).expect("decodes");
        let text = service.text().expect("decompresses").len();
        assert!(service.compressed.len() * 3 < text, "{} of {text} bytes", service.compressed.len());
    }

    #[test]
    fn corrupt_compressed_text_fails_the_read_naming_the_object() {
        let mut compact: Compact<StatefulSet> = serde_json::from_value(served()).expect("decodes");
        compact.compressed = vec![0xff; 16].into_boxed_slice();
        let error = compact.decode().expect_err("corrupt").to_string();
        assert!(error.contains("StatefulSet r-data") && error.contains("corrupt"), "{error}");
    }

    #[test]
    fn decodes_from_a_watch_event_and_from_a_list_as_the_server_sends_them() {
        let object = served().to_string();
        let event = format!(r#"{{"type":"MODIFIED","object":{object}}}"#);
        let event: kube::core::WatchEvent<Compact<StatefulSet>> = serde_json::from_str(&event).expect("decodes");
        let kube::core::WatchEvent::Modified(watched) = event else { panic!("a modification") };
        // A list's items reach the decoder through serde's buffered content, not serde_json's.
        let list = format!(r#"{{"kind":"StatefulSetList","apiVersion":"apps/v1","metadata":{{}},"items":[{object}]}}"#);
        let list: kube::core::ObjectList<Compact<StatefulSet>> = serde_json::from_str(&list).expect("decodes");
        let mut expected = served();
        expected["metadata"].as_object_mut().expect("metadata").remove("managedFields");
        for compact in [&watched, &list.items[0]] {
            assert_eq!(compact.to_value().expect("a value"), expected);
            assert_eq!(compact.applied_hash(), Some("abc"));
        }
    }

    #[test]
    fn managed_fields_are_skipped_whatever_they_hold() {
        let mut odd = served();
        odd["metadata"]["managedFields"] = json!({"not": ["a", "list", 1, null]});
        let compact: Compact<StatefulSet> = serde_json::from_value(odd).expect("decodes");
        assert!(compact.metadata().expect("metadata").managed_fields.is_none());
    }

    #[test]
    fn a_version_is_an_own_write_only_once_marked() {
        let compact: Compact<StatefulSet> = serde_json::from_value(served()).expect("decodes");
        assert!(!compact.is_own_write());
        compact.mark_own_write();
        assert!(compact.is_own_write() && compact.clone().is_own_write());
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused_when_listed() {
        let refused = serde_json::from_value::<Compact<StatefulSet>>(json!(["not", "an", "object"]));
        assert!(refused.is_err());
    }
}
