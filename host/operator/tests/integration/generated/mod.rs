//! A seeded generator of AntflyCluster documents for the agreement and property tests: valid
//! specs and specs mutated at Kubernetes' boundaries (names, quantities, tolerations, spread,
//! affinity, images, annotations), plus text-level mutations of the YAML.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Map, Value, json};

/// The fixed seed: every run generates the same cases.
pub const SEED: u64 = 0x00A7_F1A7;

pub fn rng(stream: u64) -> StdRng {
    StdRng::seed_from_u64(SEED ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn maybe(rng: &mut StdRng, percent: u32) -> bool {
    rng.random_range(0..100) < percent
}

thread_local! {
    /// Chance, in percent, that a choice takes an invalid value; set per case by [`cluster`].
    static BAD_PERCENT: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Whether this choice goes for an invalid value.
fn bad(rng: &mut StdRng) -> bool {
    maybe(rng, BAD_PERCENT.with(|b| b.get()))
}

/// One of `items`, whose first `valid` entries are valid for Kubernetes and the rest are not.
fn pick_v<'a, T>(rng: &mut StdRng, items: &'a [T], valid: usize) -> &'a T {
    if valid < items.len() && bad(rng) {
        &items[rng.random_range(valid..items.len())]
    } else {
        &items[rng.random_range(0..valid.max(1))]
    }
}

const NAMES: &[&str] = &["a", "c1", "prod-db", "1c", "-a", "a-", "Upper", "a.b", "a_b"];
const QUANTITIES: &[&str] = &[
    "1", "2", "500m", "250m", "0.5", "1Gi", "512Mi", "10Gi", "1e3", "1.5Gi", "100Ti", "1Ki", "+1", "0", "-1", "-1Gi",
    "0m", "1e19", "abc", "10GB", ".5", "5.", "1E2", "0.001m",
];
const LABEL_KEYS: &[&str] = &[
    "workload",
    "example.com/pool",
    "topology.kubernetes.io/zone",
    "kubernetes.io/hostname",
    "node.kubernetes.io/instance-type",
    "",
    "bad key",
    "Example.com/x",
    "a/b/c",
    "-x",
];
const LABEL_VALUES: &[&str] = &["antfly", "", "db-1", "a.b_c", "has space", "-bad", "x_"];
const IMAGES: &[&str] = &[
    "ghcr.io/antflydb/antfly:latest",
    "antfly",
    "localhost:5000/antfly:v1.2.3",
    "registry.example.com/team/antfly@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "Bad Image",
    " antfly",
    "antfly:",
    "",
];

/// Labels, all valid unless the case goes for invalid values.
fn label_map(rng: &mut StdRng, _valid_percent: u32) -> Value {
    let valid_only = !bad(rng);
    let mut map = Map::new();
    for _ in 0..rng.random_range(0..3) {
        let (key, value) = if valid_only {
            (*pick(rng, &LABEL_KEYS[..5]), *pick(rng, &LABEL_VALUES[..4]))
        } else {
            (*pick(rng, LABEL_KEYS), *pick(rng, LABEL_VALUES))
        };
        map.insert(key.to_string(), json!(value));
    }
    Value::Object(map)
}

fn toleration(rng: &mut StdRng) -> Value {
    let mut t = Map::new();
    let key = *pick_v(rng, &["dedicated", "example.com/gpu", "eks.amazonaws.com/spot", "", "bad key"], 3);
    if !key.is_empty() || maybe(rng, 50) {
        t.insert("key".into(), json!(key));
    }
    if maybe(rng, 80) {
        t.insert("operator".into(), json!(pick_v(rng, &["Equal", "Exists", "Exists", "Equal", "Sometimes"], 4)));
    }
    if maybe(rng, 60) {
        t.insert("value".into(), json!(pick_v(rng, &["antfly", "", "has space"], 2)));
    }
    if maybe(rng, 70) {
        t.insert("effect".into(), json!(pick_v(rng, &["NoSchedule", "NoExecute", "PreferNoSchedule", "", "Never"], 4)));
    }
    if maybe(rng, 25) {
        t.insert("tolerationSeconds".into(), json!(pick(rng, &[0, 30, 300, -5])));
    }
    Value::Object(t)
}

fn selector(rng: &mut StdRng) -> Value {
    let mut s = Map::new();
    if maybe(rng, 70) {
        s.insert("matchLabels".into(), label_map(rng, 70));
    }
    if maybe(rng, 40) {
        let operator = *pick_v(rng, &["In", "NotIn", "Exists", "DoesNotExist", "Gt"], 4);
        let values: Vec<&str> = match rng.random_range(0..3) {
            0 => vec![],
            1 => vec!["a"],
            _ => vec!["a", "b c"],
        };
        s.insert(
            "matchExpressions".into(),
            json!([{"key": pick_v(rng, &["app", "tier", "bad key"], 2), "operator": operator, "values": values}]),
        );
    }
    Value::Object(s)
}

fn spread(rng: &mut StdRng) -> Value {
    let mut c = Map::new();
    c.insert("maxSkew".into(), json!(pick_v(rng, &[1, 1, 2, 0, -1], 3)));
    c.insert(
        "topologyKey".into(),
        json!(pick_v(rng, &["topology.kubernetes.io/zone", "kubernetes.io/hostname", "", "bad key"], 2)),
    );
    c.insert("whenUnsatisfiable".into(), json!(pick_v(rng, &["ScheduleAnyway", "DoNotSchedule", "Maybe"], 2)));
    if maybe(rng, 30) {
        c.insert("minDomains".into(), json!(pick_v(rng, &[1, 3, 0], 2)));
    }
    if maybe(rng, 60) {
        c.insert("labelSelector".into(), selector(rng));
    }
    if maybe(rng, 20) {
        c.insert("matchLabelKeys".into(), json!([pick_v(rng, &["pod-template-hash", "app", "bad key"], 2)]));
    }
    if maybe(rng, 20) {
        c.insert("nodeAffinityPolicy".into(), json!(pick_v(rng, &["Honor", "Ignore", "Sometimes"], 2)));
    }
    if maybe(rng, 20) {
        c.insert("nodeTaintsPolicy".into(), json!(pick(rng, &["Honor", "Ignore"])));
    }
    Value::Object(c)
}

fn node_requirement(rng: &mut StdRng) -> Value {
    let operator = *pick_v(rng, &["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt", "Near"], 6);
    let values: Vec<&str> = match rng.random_range(0..4) {
        0 => vec![],
        1 => vec!["5"],
        2 => vec!["m5.large", "m6i.large"],
        _ => vec!["not a number"],
    };
    json!({"key": pick_v(rng, &LABEL_KEYS[..6], 5), "operator": operator, "values": values})
}

fn affinity(rng: &mut StdRng) -> Value {
    let mut a = Map::new();
    if maybe(rng, 60) {
        let mut node = Map::new();
        if maybe(rng, 50) {
            let terms: Vec<Value> =
                (0..rng.random_range(0..3)).map(|_| json!({"matchExpressions": [node_requirement(rng)]})).collect();
            node.insert("requiredDuringSchedulingIgnoredDuringExecution".into(), json!({"nodeSelectorTerms": terms}));
        }
        if maybe(rng, 60) {
            let weight = *pick_v(rng, &[1, 50, 100, 0, 101], 3);
            node.insert(
                "preferredDuringSchedulingIgnoredDuringExecution".into(),
                json!([{"weight": weight, "preference": {"matchExpressions": [node_requirement(rng)]}}]),
            );
        }
        if maybe(rng, 10) {
            node.insert(
                "requiredDuringSchedulingIgnoredDuringExecution".into(),
                json!({"nodeSelectorTerms": [{"matchFields": [{"key": pick_v(rng, &["metadata.name", "spec.x"], 1), "operator": "In", "values": ["n1"]}]}]}),
            );
        }
        a.insert("nodeAffinity".into(), Value::Object(node));
    }
    if maybe(rng, 50) {
        let mut term = Map::new();
        term.insert("topologyKey".into(), json!(pick_v(rng, &["kubernetes.io/hostname", "", "bad key"], 1)));
        if maybe(rng, 80) {
            term.insert("labelSelector".into(), selector(rng));
        }
        if maybe(rng, 20) {
            term.insert("namespaces".into(), json!([pick_v(rng, &["db", "kube-system", "Bad"], 2)]));
        }
        if maybe(rng, 15) {
            term.insert("matchLabelKeys".into(), json!(["pod-template-hash"]));
        }
        let field = *pick(rng, &["podAntiAffinity", "podAffinity"]);
        let weighted = maybe(rng, 50);
        let body = if weighted {
            json!({"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": pick_v(rng, &[1, 100, 0], 2), "podAffinityTerm": term}]})
        } else {
            json!({"requiredDuringSchedulingIgnoredDuringExecution": [term]})
        };
        a.insert(field.into(), body);
    }
    Value::Object(a)
}

/// A quantity as text, or as a number as pods allow (`cpu: 2`); `0.5` and `-1` are refused.
fn quantity(rng: &mut StdRng) -> Value {
    if maybe(rng, 20) {
        json!(pick_v(rng, &[json!(1), json!(2), json!(4_294_967_296_i64), json!(0), json!(-1), json!(0.5)], 3))
    } else {
        json!(pick_v(rng, QUANTITIES, 13))
    }
}

fn resources(rng: &mut StdRng) -> Value {
    let mut r = Map::new();
    for field in ["cpu", "memory"] {
        if maybe(rng, 60) {
            r.insert(field.into(), quantity(rng));
        }
    }
    if maybe(rng, 40) {
        let mut limits = Map::new();
        for field in ["cpu", "memory"] {
            if maybe(rng, 70) {
                limits.insert(field.into(), quantity(rng));
            }
        }
        r.insert("limits".into(), Value::Object(limits));
    }
    Value::Object(r)
}

fn role(rng: &mut StdRng, metadata: bool) -> Value {
    let mut n = Map::new();
    if maybe(rng, 70) {
        let replicas =
            if metadata { *pick_v(rng, &[1, 3, 3, 5, 7, 2, 0, 9], 5) } else { *pick_v(rng, &[1, 2, 3, 5, 12, 0], 5) };
        n.insert("replicas".into(), json!(replicas));
    }
    if maybe(rng, 50) {
        n.insert("resources".into(), resources(rng));
    }
    if maybe(rng, 30) {
        n.insert("nodeSelector".into(), label_map(rng, 60));
    }
    if maybe(rng, 35) {
        let tolerations: Vec<Value> = (0..rng.random_range(1..4)).map(|_| toleration(rng)).collect();
        n.insert("tolerations".into(), json!(tolerations));
    }
    if maybe(rng, 35) {
        let constraints: Vec<Value> = (0..rng.random_range(1..3)).map(|_| spread(rng)).collect();
        n.insert("topologySpreadConstraints".into(), json!(constraints));
    }
    if maybe(rng, 30) {
        n.insert("affinity".into(), affinity(rng));
    }
    if !metadata && maybe(rng, 20) {
        n.insert(
            "autoScaling".into(),
            json!({"enabled": maybe(rng, 70), "minReplicas": pick_v(rng, &[1, 3, 0], 2), "maxReplicas": pick_v(rng, &[5, 10, 2], 3),
                   "targetCPUUtilizationPercentage": pick_v(rng, &[70, 0, 101], 1), "scaleUpCooldown": pick_v(rng, &["60s", "5m", "soon"], 2)}),
        );
    }
    Value::Object(n)
}

/// One AntflyCluster spec; `plugins` allows specs that select the bundled plugins.
pub fn spec(rng: &mut StdRng, plugins: bool) -> Value {
    let mut s = Map::new();
    if maybe(rng, 40) {
        s.insert("image".into(), json!(pick_v(rng, IMAGES, 4)));
    }
    if maybe(rng, 20) {
        s.insert("imagePullPolicy".into(), json!(pick_v(rng, &["Always", "IfNotPresent", "Never", "Sometimes"], 3)));
    }
    if maybe(rng, 20) {
        s.insert(
            "config".into(),
            json!(pick_v(
                rng,
                &["{}", "{\"log\": {\"level\": \"debug\"}}", "{\"replication_factor\": 5}", "[1]", "nope"],
                2
            )),
        );
    }
    if maybe(rng, 80) {
        s.insert("metadataNodes".into(), role(rng, true));
    }
    if maybe(rng, 80) {
        s.insert("dataNodes".into(), role(rng, false));
    }
    if maybe(rng, 40) {
        let mut storage = Map::new();
        for field in ["metadataStorage", "dataStorage"] {
            if maybe(rng, 60) {
                storage.insert(field.into(), quantity(rng));
            }
        }
        if maybe(rng, 40) {
            storage.insert("storageClass".into(), json!(pick_v(rng, &["", "fast", "gp3.io", "Fast"], 3)));
        }
        if maybe(rng, 20) {
            storage.insert("pvcRetentionPolicy".into(), json!({"whenDeleted": pick(rng, &["Retain", "Delete"])}));
        }
        s.insert("storage".into(), Value::Object(storage));
    }
    if maybe(rng, 25) {
        s.insert(
            "publicAPI".into(),
            json!({"enabled": maybe(rng, 70), "serviceType": pick_v(rng, &["ClusterIP", "NodePort", "LoadBalancer", "External"], 3),
                   "port": pick_v(rng, &[80, 8080, 65535, 0, 65536], 3)}),
        );
    }
    if maybe(rng, 20) {
        s.insert(
            "podDisruptionBudget".into(),
            json!({"enabled": maybe(rng, 70), "maxUnavailable": pick_v(rng, &[1, 2, 0], 2)}),
        );
    }
    if maybe(rng, 20) {
        let mut annotations = Map::new();
        for _ in 0..rng.random_range(0..3) {
            let key =
                *pick_v(rng, &["sidecar.istio.io/inject", "linkerd.io/inject", "example.com/note", "bad key!"], 3);
            let value = if bad(rng) { "x".repeat(270_000) } else { "enabled".to_string() };
            annotations.insert(key.into(), json!(value));
        }
        let mut mesh = json!({"enabled": maybe(rng, 70), "annotations": annotations});
        if plugins && maybe(rng, 50) {
            mesh["profile"] = json!(pick(rng, &["istio", "linkerd", "consul"]));
        }
        s.insert("serviceMesh".into(), mesh);
    }
    if maybe(rng, 15) {
        let long = ["d".repeat(60), "d".repeat(60), "d".repeat(60)].join(".");
        s.insert(
            "clusterDomain".into(),
            json!(pick_v(rng, &["cluster.local", "example.com", "Upper.com", long.as_str()], 2)),
        );
    }
    if plugins && maybe(rng, 20) {
        if maybe(rng, 50) {
            s.insert(
                "eks".into(),
                json!({"enabled": true, "spot": {"dataNodes": maybe(rng, 60)}, "instanceTypes": ["m5.large"]}),
            );
        } else {
            s.insert("gke".into(), json!({"autopilot": maybe(rng, 50), "spot": {"dataNodes": maybe(rng, 40)}}));
        }
    }
    Value::Object(s)
}

/// A whole AntflyCluster document in namespace `namespace`.
///
/// A third of the cases make only valid choices; the others go for an invalid value at each
/// choice with a small chance, so that most of them break one or two rules.
pub fn cluster(rng: &mut StdRng, namespace: &str, index: usize, plugins: bool) -> Value {
    let bad_percent = *pick(rng, &[0, 4, 10]);
    BAD_PERCENT.with(|b| b.set(bad_percent));
    let name = if !bad(rng) {
        format!("c{index}")
    } else if maybe(rng, 50) {
        pick(rng, NAMES).to_string()
    } else {
        "n".repeat(*pick(rng, &[43, 44, 63]))
    };
    let mut metadata = json!({"name": name, "namespace": namespace});
    if maybe(rng, 15) {
        metadata["labels"] = label_map(rng, 50);
    }
    json!({"apiVersion": "antfly.io/v1", "kind": "AntflyCluster", "metadata": metadata, "spec": spec(rng, plugins)})
}

/// Text-level damage to a YAML document: deleted, duplicated or swapped characters and lines.
pub fn mutate_text(rng: &mut StdRng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..rng.random_range(1..4) {
        if chars.is_empty() {
            break;
        }
        let at = rng.random_range(0..chars.len());
        match rng.random_range(0..6) {
            0 => {
                chars.remove(at);
            }
            1 => {
                chars.insert(at, *pick(rng, &[':', '-', ' ', '\n', '&', '*', '[', '{', '"', '\'', '<', '!', '#', '|']))
            }
            2 => {
                let end = (at + rng.random_range(1..20)).min(chars.len());
                let copy: Vec<char> = chars[at..end].to_vec();
                chars.splice(at..at, copy);
            }
            3 => chars[at] = char::from(rng.random_range(32u8..127)),
            4 => {
                let other = rng.random_range(0..chars.len());
                chars.swap(at, other);
            }
            _ => chars.truncate(at),
        }
    }
    let mut out: String = chars.into_iter().collect();
    if rng.random_bool(0.05) {
        out.push_str("\nanchor: &a [x, x]\nbomb: [*a, *a, *a]\n");
    }
    out
}

/// Serialise a document as YAML.
pub fn to_yaml(document: &Value) -> String {
    serde_saphyr::to_string(document).unwrap_or_default()
}

/// Whether an rng draw says so; re-exported for the tests' own choices.
pub fn coin(rng: &mut StdRng) -> bool {
    rng.random_bool(0.5)
}

/// A random number in a range, for the tests' own choices.
pub fn below(rng: &mut StdRng, n: usize) -> usize {
    rng.random_range(0..n.max(1))
}
