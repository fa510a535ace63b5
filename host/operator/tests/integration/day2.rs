//! Day-2 changes on a real kube-apiserver with a real kube-controller-manager: StatefulSets
//! make pods and claims, garbage collection follows owner references. The test plays only the
//! kubelet ([`Kubelet`]), and an Antfly API double answers the pods' health checks.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use antfly_double::AntflyDouble;
use antfly_envtest::ControlPlane;
use antfly_envtest::kubelet::report_pod;
use antfly_operator::api::{AntflyCluster, AntflyClusterStatus};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::task::JoinHandle;

use crate::support::*;

/// What the kubelet reports pods at; the double listens there too.
const POD_IP: &str = "127.0.0.1";

/// The kubelet's part: each pod of the namespace is reported Running and Ready `delay` after
/// it first shows, except held pods (by name, made after the hold), reported Running but not
/// Ready. It also records the most pods that were ever missing or not Ready at once.
pub struct Kubelet {
    held: Arc<Mutex<BTreeMap<String, tokio::time::Instant>>>,
    worst: Arc<AtomicUsize>,
    watching: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Kubelet {
    fn start(client: Client, namespace: &str, delay: Duration) -> Self {
        let held = Arc::new(Mutex::new(BTreeMap::new()));
        let worst = Arc::new(AtomicUsize::new(0));
        let watching = Arc::new(AtomicBool::new(false));
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let sets: Api<StatefulSet> = Api::namespaced(client, namespace);
        let (held_in, worst_in, watching_in) = (held.clone(), worst.clone(), watching.clone());
        let task = tokio::spawn(async move {
            let mut first_seen: BTreeMap<String, tokio::time::Instant> = BTreeMap::new();
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let (Ok(listed), Ok(statefulsets)) =
                    (pods.list(&ListParams::default()).await, sets.list(&ListParams::default()).await)
                else {
                    continue;
                };
                let wanted: i32 = statefulsets.items.iter().filter_map(|s| s.spec.as_ref()?.replicas).sum();
                let mut ready = 0;
                for pod in &listed.items {
                    let uid = pod.uid().unwrap_or_default();
                    let seen = *first_seen.entry(uid).or_insert_with(tokio::time::Instant::now);
                    let is_ready = pod_ready(pod);
                    let hold =
                        held_in.lock().expect("held pods").get(&pod.name_any()).is_some_and(|since| seen > *since);
                    let reported = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
                    if hold && (is_ready || !reported) {
                        let _ = report_pod(&pods, &pod.name_any(), false, POD_IP).await;
                    } else if !hold && !is_ready && seen.elapsed() >= delay {
                        let _ = report_pod(&pods, &pod.name_any(), true, POD_IP).await;
                    }
                    ready += i32::from(is_ready && pod.metadata.deletion_timestamp.is_none());
                }
                if watching_in.load(Ordering::SeqCst) {
                    let unavailable = usize::try_from(wanted - ready).unwrap_or(0);
                    worst_in.fetch_max(unavailable, Ordering::SeqCst);
                }
            }
        });
        Self { held, worst, watching, task }
    }

    /// Keeps the next pods named `pod` from becoming Ready; the one running now stays as it is.
    pub fn hold(&self, pod: &str) {
        self.held.lock().expect("held pods").insert(pod.to_string(), tokio::time::Instant::now());
    }

    pub fn release(&self, pod: &str) {
        self.held.lock().expect("held pods").remove(pod);
    }

    /// From now on, record how many pods are unavailable at once.
    pub fn watch_availability(&self) {
        self.worst.store(0, Ordering::SeqCst);
        self.watching.store(true, Ordering::SeqCst);
    }

    pub fn most_unavailable(&self) -> usize {
        self.worst.load(Ordering::SeqCst)
    }
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// A control plane with a controller-manager, the operator's CRDs and RBAC, a namespace, a
/// kubelet, a double answering health checks, and the operator.
pub struct Day2 {
    pub cp: ControlPlane,
    pub admin: Client,
    pub namespace: String,
    pub kubelet: Kubelet,
    pub double: AntflyDouble,
    operator: Option<RunningOperator>,
}

impl Day2 {
    pub async fn start(namespace: &str) -> Self {
        let cp = ControlPlane::start_with_controller_manager().await.expect("control plane");
        let admin = cp.client();
        install_operator_manifests(&admin).await;
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": namespace}})).expect("namespace");
        Api::<Namespace>::all(admin.clone()).create(&PostParams::default(), &ns).await.expect("namespace");
        let kubelet = Kubelet::start(admin.clone(), namespace, Duration::from_millis(300));
        let double = AntflyDouble::start().await;
        let operator = Some(Self::operator(&cp, &double));
        Self { cp, admin, namespace: namespace.to_string(), kubelet, double, operator }
    }

    fn operator(cp: &ControlPlane, double: &AntflyDouble) -> RunningOperator {
        RunningOperator::start_against(operator_client(cp), "operator-a", double)
    }

    pub async fn restart_operator(&mut self) {
        if let Some(operator) = self.operator.take() {
            operator.stop().await;
        }
        self.operator = Some(Self::operator(&self.cp, &self.double));
    }

    pub fn clusters(&self) -> Api<AntflyCluster> {
        Api::namespaced(self.admin.clone(), &self.namespace)
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.admin.clone(), &self.namespace)
    }

    pub async fn create(&self, name: &str, spec: serde_json::Value) {
        let cluster: AntflyCluster = serde_json::from_value(json!({
            "apiVersion": "antfly.io/v1", "kind": "AntflyCluster", "metadata": {"name": name}, "spec": spec,
        }))
        .expect("cluster");
        self.clusters().create(&PostParams::default(), &cluster).await.expect("create cluster");
    }

    pub async fn patch(&self, name: &str, spec: serde_json::Value) -> Result<AntflyCluster, kube::Error> {
        self.clusters().patch(name, &PatchParams::default(), &Patch::Merge(json!({"spec": spec}))).await
    }

    pub async fn status(&self, name: &str) -> AntflyClusterStatus {
        self.clusters().get(name).await.ok().and_then(|c| c.status).unwrap_or_default()
    }

    /// The pods of a StatefulSet by name, with their uids.
    pub async fn pod_uids(&self, statefulset: &str) -> BTreeMap<String, String> {
        let pods = self.api::<Pod>().list(&ListParams::default()).await.expect("pods");
        pods.items
            .iter()
            .filter(|p| p.name_any().rsplit_once('-').is_some_and(|(set, _)| set == statefulset))
            .map(|p| (p.name_any(), p.uid().unwrap_or_default()))
            .collect()
    }

    /// Whether every pod of the cluster runs its StatefulSet's update revision, is Ready, and
    /// the Rollout condition says so.
    pub async fn rolled_out(&self, name: &str) -> bool {
        let status = self.status(name).await;
        let complete = status.conditions.iter().any(|c| c.type_ == "Rollout" && c.status == "True");
        let sets = self.api::<StatefulSet>().list(&ListParams::default()).await.expect("statefulsets");
        let pods = self.api::<Pod>().list(&ListParams::default()).await.expect("pods");
        let mut every_pod_current = true;
        for set in sets.items.iter().filter(|s| s.name_any().starts_with(&format!("{name}-"))) {
            let revision = set.status.as_ref().and_then(|s| s.update_revision.clone());
            let wanted = set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0) as usize;
            let own: Vec<&Pod> = pods
                .items
                .iter()
                .filter(|p| p.name_any().rsplit_once('-').is_some_and(|(s, _)| s == set.name_any()))
                .collect();
            every_pod_current &= own.len() == wanted
                && own.iter().all(|p| pod_ready(p) && p.labels().get("controller-revision-hash") == revision.as_ref());
        }
        complete && every_pod_current
    }

    pub async fn wait_rolled_out(&self, name: &str, what: &str) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
        while !self.rolled_out(name).await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; status: {:#?}\ncontroller-manager:\n{}",
                self.status(name).await.conditions,
                self.cp.controller_manager_log_tail().unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Pods the operator deleted, in order, after the first `skip` of them.
    pub fn restarts(&self) -> Vec<String> {
        object_writes(&self.cp, OPERATOR_USER)
            .into_iter()
            .filter(|e| e.verb == "delete" && e.resource() == "pods" && e.succeeded())
            .map(|e| e.name().to_string())
            .collect()
    }

    /// Waits until the operator has deleted `count` pods in all.
    pub async fn wait_restarts(&self, count: usize) {
        eventually(&format!("{count} pod restarts"), || async { self.restarts().len() >= count }).await;
    }
}

fn names(prefix: &str, ordinals: &[i32]) -> Vec<String> {
    ordinals.iter().map(|o| format!("{prefix}-{o}")).collect()
}

/// An image change rolls one pod at a time, data pods first, highest ordinal first; a data-only
/// change leaves metadata pods alone; scaling data nodes restarts nothing; and a revert midway
/// rolls the updated pods back.
#[tokio::test]
async fn rollouts_go_one_pod_at_a_time_in_order_and_a_revert_rolls_back() {
    let t = Day2::start("rollouts").await;
    t.create("r", json!({"image": "antfly:1", "metadataNodes": {"replicas": 3}, "dataNodes": {"replicas": 3}})).await;
    t.wait_rolled_out("r", "the new cluster to run").await;
    let sets = t.api::<StatefulSet>();
    for set in ["r-metadata", "r-data"] {
        let strategy = sets.get(set).await.expect("statefulset").spec.and_then(|s| s.update_strategy);
        assert_eq!(strategy.and_then(|s| s.type_).as_deref(), Some("OnDelete"), "{set}");
    }
    let metadata_pods = t.pod_uids("r-metadata").await;
    t.kubelet.watch_availability();

    // A data-only change: the data pods roll, highest first; no metadata pod restarts.
    t.patch("r", json!({"dataNodes": {"resources": {"cpu": "2"}}})).await.expect("data-only change");
    t.wait_restarts(3).await;
    t.wait_rolled_out("r", "the data-only rollout").await;
    assert_eq!(t.restarts(), names("r-data", &[2, 1, 0]));
    assert_eq!(t.pod_uids("r-metadata").await, metadata_pods, "no metadata pod restarted");
    assert_eq!(t.kubelet.most_unavailable(), 1, "one pod at a time");

    // Scaling data nodes restarts nothing and leaves config.json as it was.
    let config = t.api::<ConfigMap>().get("r-config").await.expect("config map").data;
    let data_pods = t.pod_uids("r-data").await;
    t.patch("r", json!({"dataNodes": {"replicas": 4}})).await.expect("scale data nodes");
    eventually("a fourth data pod", || async { t.pod_uids("r-data").await.len() == 4 }).await;
    t.wait_rolled_out("r", "the scale-up").await;
    assert_eq!(t.api::<ConfigMap>().get("r-config").await.expect("config map").data, config);
    let after_scale = t.pod_uids("r-data").await;
    assert!(data_pods.iter().all(|(name, uid)| after_scale.get(name) == Some(uid)), "no data pod restarted");
    assert_eq!(t.restarts().len(), 3, "scaling restarts nothing");

    // An image change: four data pods, then three metadata pods, one at a time.
    t.patch("r", json!({"image": "antfly:2"})).await.expect("image change");
    t.wait_restarts(3 + 7).await;
    t.wait_rolled_out("r", "the image rollout").await;
    assert_eq!(t.restarts()[3..], [names("r-data", &[3, 2, 1, 0]), names("r-metadata", &[2, 1, 0])].concat());
    assert_eq!(t.kubelet.most_unavailable(), 1, "one pod at a time");
    let status = t.status("r").await;
    assert_eq!((status.data_nodes_updated, status.metadata_nodes_updated), (4, 3));

    // A revert midway: r-data-2 comes back updated but is held not Ready; the spec goes back.
    t.kubelet.hold("r-data-2");
    t.patch("r", json!({"image": "antfly:3"})).await.expect("image change");
    t.wait_restarts(10 + 2).await;
    // Waiting, not the "restarting r-data-2" step just before it, which names the pod too.
    eventually("the rollout waits on r-data-2", || async {
        t.status("r")
            .await
            .conditions
            .iter()
            .any(|c| c.type_ == "Rollout" && c.message.contains("r-data-2") && c.message.contains("; waiting: "))
    })
    .await;
    let condition = t.status("r").await.conditions.into_iter().find(|c| c.type_ == "Rollout").expect("Rollout");
    assert_eq!((condition.status.as_str(), condition.reason.as_str()), ("False", "InProgress"));
    assert!(condition.message.contains("updated 2/4 data pods"), "{}", condition.message);
    t.patch("r", json!({"image": "antfly:2"})).await.expect("revert");
    // r-data-2, outdated again and serving nothing, goes back first; released, r-data-3 follows.
    t.wait_restarts(10 + 3).await;
    t.kubelet.release("r-data-2");
    t.wait_rolled_out("r", "the rollback").await;
    // r-data-3 and r-data-2 went to antfly:3 and came back to antfly:2; nothing else moved.
    assert_eq!(t.restarts()[10..], names("r-data", &[3, 2, 2, 3]));
    let image = |set: StatefulSet| set.spec.and_then(|s| s.template.spec).map(|p| p.containers[0].image.clone());
    assert_eq!(image(sets.get("r-data").await.expect("sts")), Some(Some("antfly:2".to_string())));
}

/// A pod that never becomes Ready halts the rollout with a condition and an event; fixing the
/// spec moves on; and an operator killed mid-rollout resumes from what the cluster shows.
#[tokio::test]
async fn a_stuck_pod_halts_the_rollout_and_a_restarted_operator_resumes() {
    let mut t = Day2::start("halts").await;
    let spec = json!({"image": "antfly:1", "metadataNodes": {"replicas": 1}, "dataNodes": {"replicas": 3},
                      "rollout": {"podReadyTimeoutSeconds": 3}});
    t.create("h", spec).await;
    t.wait_rolled_out("h", "the new cluster to run").await;

    t.kubelet.hold("h-data-2");
    t.patch("h", json!({"image": "antfly:broken"})).await.expect("a bad image");
    eventually("the rollout halts", || async {
        t.status("h").await.conditions.iter().any(|c| c.type_ == "Rollout" && c.reason == "RolloutHalted")
    })
    .await;
    let events = Api::<k8s_openapi::api::events::v1::Event>::namespaced(t.admin.clone(), "halts")
        .list(&ListParams::default())
        .await
        .expect("events");
    let halted: Vec<_> = events.items.iter().filter(|e| e.reason.as_deref() == Some("RolloutHalted")).collect();
    assert_eq!(halted.len(), 1, "one event for the halt: {halted:#?}");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(t.restarts(), ["h-data-2"], "nothing else restarts while halted");

    // The fix: the stuck pod is outdated now and serves nothing, so it is replaced first.
    t.patch("h", json!({"image": "antfly:2"})).await.expect("a good image");
    t.wait_restarts(2).await;
    t.kubelet.release("h-data-2");
    t.wait_rolled_out("h", "the fixed rollout").await;
    assert_eq!(
        t.restarts(),
        [vec!["h-data-2".to_string()], names("h-data", &[2, 1, 0]), names("h-metadata", &[0])].concat()
    );

    // Killed after its first restart of the next rollout, the operator resumes where the
    // cluster stands: every pod restarts exactly once.
    t.patch("h", json!({"image": "antfly:3"})).await.expect("image change");
    t.wait_restarts(6).await;
    t.restart_operator().await;
    t.wait_rolled_out("h", "the resumed rollout").await;
    assert_eq!(t.restarts()[5..], [names("h-data", &[2, 1, 0]), names("h-metadata", &[0])].concat());
}

/// Raising a storage size grows each claim in place and recreates the StatefulSet around its
/// running pods; a StorageClass without expansion says so in StorageResize; shrinking is
/// refused at admission.
#[tokio::test]
async fn storage_grows_in_place_or_says_why_and_never_shrinks() {
    let t = Day2::start("storage").await;
    for (class, expands) in [("expandable", true), ("fixed", false)] {
        let class: StorageClass = serde_json::from_value(json!({
            "metadata": {"name": class}, "provisioner": "example.com/pre-provisioned",
            "allowVolumeExpansion": expands, "volumeBindingMode": "Immediate",
        }))
        .expect("storage class");
        Api::<StorageClass>::all(t.admin.clone()).create(&PostParams::default(), &class).await.expect("class");
    }
    // Pre-provisioned volumes, one per claim, which the controller-manager binds.
    for (cluster, class) in [("grow", "expandable"), ("stay", "fixed")] {
        for role in ["metadata", "data"] {
            let claim = format!("data-{cluster}-{role}-0");
            let volume: PersistentVolume = serde_json::from_value(json!({
                "metadata": {"name": format!("pv-{claim}")},
                "spec": {"capacity": {"storage": "2Gi"}, "accessModes": ["ReadWriteOnce"],
                         "storageClassName": class, "hostPath": {"path": format!("/tmp/{claim}")},
                         "claimRef": {"namespace": "storage", "name": claim}},
            }))
            .expect("volume");
            Api::<PersistentVolume>::all(t.admin.clone()).create(&PostParams::default(), &volume).await.expect("pv");
        }
        let config = "{\"replication_factor\": 1}";
        t.create(
            cluster,
            json!({"metadataNodes": {"replicas": 1}, "dataNodes": {"replicas": 1}, "config": config,
            "storage": {"storageClass": class, "metadataStorage": "1Gi", "dataStorage": "1Gi"}}),
        )
        .await;
    }
    let claims = t.api::<PersistentVolumeClaim>();
    for claim in ["data-grow-data-0", "data-stay-data-0"] {
        eventually(&format!("{claim} bound"), || async {
            claims.get_opt(claim).await.ok().flatten().and_then(|c| c.status).and_then(|s| s.phase).as_deref()
                == Some("Bound")
        })
        .await;
    }
    t.wait_rolled_out("grow", "cluster grow to run").await;
    t.wait_rolled_out("stay", "cluster stay to run").await;
    let sets = t.api::<StatefulSet>();
    let uid = |set: StatefulSet| set.uid().unwrap_or_default();
    let grow_set = uid(sets.get("grow-data").await.expect("sts"));
    let stay_set = uid(sets.get("stay-data").await.expect("sts"));
    let grow_pods = t.pod_uids("grow-data").await;

    t.patch("grow", json!({"storage": {"dataStorage": "2Gi"}})).await.expect("grow");
    t.patch("stay", json!({"storage": {"dataStorage": "2Gi"}})).await.expect("grow");
    let template_size = |set: &StatefulSet| {
        set.spec.as_ref().and_then(|s| s.volume_claim_templates.as_ref()).and_then(|t| {
            t[0].spec.as_ref()?.resources.as_ref()?.requests.as_ref()?.get("storage").map(|q| q.0.clone())
        })
    };
    eventually("grow-data recreated with 2Gi claims", || async {
        let Ok(Some(set)) = sets.get_opt("grow-data").await else { return false };
        set.uid().unwrap_or_default() != grow_set && template_size(&set).as_deref() == Some("2Gi")
    })
    .await;
    let claim = claims.get("data-grow-data-0").await.expect("claim");
    let requested =
        claim.spec.and_then(|s| s.resources).and_then(|r| r.requests).and_then(|r| r.get("storage").cloned());
    assert_eq!(requested.map(|q| q.0).as_deref(), Some("2Gi"), "the claim grew in place");
    eventually("StorageResize True", || async {
        t.status("grow").await.conditions.iter().any(|c| c.type_ == "StorageResize" && c.status == "True")
    })
    .await;
    t.wait_rolled_out("grow", "grow to settle").await;
    assert_eq!(t.pod_uids("grow-data").await, grow_pods, "no pod restarted");

    eventually("StorageResize False for the fixed class", || async {
        t.status("stay").await.conditions.iter().any(|c| c.type_ == "StorageResize" && c.reason == "ExpansionRefused")
    })
    .await;
    let condition = t.status("stay").await.conditions.into_iter().find(|c| c.type_ == "StorageResize").expect("set");
    assert!(condition.message.contains("data-stay-data-0"), "{}", condition.message);
    assert!(condition.message.contains("must support resize"), "the API server's reason: {}", condition.message);
    assert_eq!(uid(sets.get("stay-data").await.expect("sts")), stay_set, "the StatefulSet stays");

    let shrink = t.patch("grow", json!({"storage": {"dataStorage": "1Gi"}})).await.expect_err("refused");
    let kube::Error::Api(status) = shrink else { panic!("an API refusal, got {shrink:?}") };
    assert_eq!(status.code, 422);
    assert!(status.message.contains("dataStorage cannot shrink"), "{}", status.message);
}
