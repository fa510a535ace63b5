//! Drift: where a live object no longer holds what the operator applied. The comparison is
//! on the fields the operator sets, and only those: what the API server defaults, and what
//! other managers add (a user's extra labels or annotations, another controller's list
//! entries), is not drift.
//!
//! - Objects: every field the desired object sets must be live with a matching value.
//! - Lists of objects that all have a `name` (containers, env, ports, volumes, owner
//!   references) match entry by name, and the live list may hold more entries. Other lists
//!   must match entry by entry, with the same length.
//! - Quantities match by value (`0.5` and `500m`, as the API server rewrites them), and a
//!   number matches the same number written as text.

use serde_json::Value;

/// The path of the first field where `live` does not hold `desired`, or `None`.
pub fn first_drift(desired: &Value, live: &Value) -> Option<String> {
    walk(desired, live, "")
}

fn walk(desired: &Value, live: &Value, path: &str) -> Option<String> {
    match (desired, live) {
        (Value::Object(wanted), Value::Object(have)) => wanted.iter().find_map(|(key, value)| {
            let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            match have.get(key) {
                Some(live_value) => walk(value, live_value, &child),
                None if is_empty(value) => None,
                None => Some(child),
            }
        }),
        (Value::Array(wanted), Value::Array(have)) => match names(wanted) {
            Some(wanted_names) => wanted.iter().zip(wanted_names).find_map(|(entry, name)| {
                let child = format!("{path}[name={name}]");
                match have.iter().find(|l| l.get("name").and_then(Value::as_str) == Some(name)) {
                    Some(live_entry) => walk(entry, live_entry, &child),
                    None => Some(child),
                }
            }),
            None if wanted.len() != have.len() => Some(path.to_string()),
            None => wanted.iter().zip(have).enumerate().find_map(|(i, (w, l))| walk(w, l, &format!("{path}[{i}]"))),
        },
        (wanted, have) if scalars_match(wanted, have) => None,
        _ => Some(path.to_string()),
    }
}

/// The names of a list whose every entry is an object with a string `name`.
fn names(list: &[Value]) -> Option<Vec<&str>> {
    if list.is_empty() {
        return None;
    }
    list.iter().map(|entry| entry.get("name").and_then(Value::as_str)).collect()
}

/// An empty object or list, or null: the API server drops these, so their absence is no drift.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(list) => list.is_empty(),
        _ => false,
    }
}

fn scalars_match(desired: &Value, live: &Value) -> bool {
    if desired == live {
        return true;
    }
    match (desired, live) {
        (Value::String(a), Value::String(b)) => same_quantity(a, b),
        (Value::Number(a), Value::String(b)) | (Value::String(b), Value::Number(a)) => {
            a.as_f64().is_some_and(|a| b.parse::<f64>().is_ok_and(|b| a == b))
        }
        _ => false,
    }
}

/// Two spellings of one quantity (`1000m` and `1`, `0.5Gi` and `512Mi`).
fn same_quantity(a: &str, b: &str) -> bool {
    let starts_like_a_number =
        |s: &str| s.starts_with(|c: char| c.is_ascii_digit() || c == '.' || c == '+' || c == '-');
    if !starts_like_a_number(a) || !starts_like_a_number(b) {
        return false;
    }
    match (crate::validate::syntax::quantity_value(a), crate::validate::syntax::quantity_value(b)) {
        (Ok(x), Ok(y)) => x == y || (x - y).abs() <= f64::EPSILON * x.abs().max(y.abs()) * 4.0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::first_drift;

    #[test]
    fn defaults_and_other_managers_fields_are_not_drift() {
        let desired = json!({
            "metadata": {"labels": {"app": "antfly"}, "annotations": {}},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "antfly", "image": "a:1",
                "resources": {"requests": {"cpu": "0.5", "memory": "1Gi"}},
                "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}],
                "tolerations": []}}},
        });
        let live = json!({
            "metadata": {"labels": {"app": "antfly", "team": "search"}, "resourceVersion": "7"},
            "spec": {"replicas": 3, "revisionHistoryLimit": 10, "template": {"spec": {"containers": [
                {"name": "antfly", "image": "a:1", "terminationMessagePath": "/dev/termination-log",
                 "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}},
                 "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}]},
                {"name": "istio-proxy", "image": "proxy"}]}}},
            "status": {"replicas": 3},
        });
        assert_eq!(first_drift(&desired, &live), None);
    }

    #[test]
    fn changed_removed_and_shortened_fields_are_drift_with_their_path() {
        let desired = json!({
            "metadata": {"labels": {"app": "antfly"}},
            "data": {"config.json": "{}"},
            "spec": {"replicas": 3, "template": {"spec": {
                "containers": [{"name": "antfly", "args": ["a", "b"]}],
                "tolerations": [{"key": "spot", "operator": "Exists"}]}}},
        });
        let drifted = |live: serde_json::Value| first_drift(&desired, &live);
        let base = json!({
            "metadata": {"labels": {"app": "antfly"}},
            "data": {"config.json": "{}"},
            "spec": {"replicas": 3, "template": {"spec": {
                "containers": [{"name": "antfly", "args": ["a", "b"]}],
                "tolerations": [{"key": "spot", "operator": "Exists"}]}}},
        });
        assert_eq!(drifted(base.clone()), None);
        let mut scaled = base.clone();
        scaled["spec"]["replicas"] = json!(1);
        assert_eq!(drifted(scaled).as_deref(), Some("spec.replicas"));
        let mut edited = base.clone();
        edited["data"]["config.json"] = json!("{\"x\":1}");
        assert_eq!(drifted(edited).as_deref(), Some("data.config.json"));
        let mut unlabelled = base.clone();
        unlabelled["metadata"]["labels"] = json!({});
        assert_eq!(drifted(unlabelled).as_deref(), Some("metadata.labels.app"));
        let mut untolerated = base.clone();
        untolerated["spec"]["template"]["spec"]["tolerations"] = json!([]);
        assert_eq!(drifted(untolerated).as_deref(), Some("spec.template.spec.tolerations"));
        let mut no_container = base.clone();
        no_container["spec"]["template"]["spec"]["containers"] = json!([{"name": "other"}]);
        assert_eq!(drifted(no_container).as_deref(), Some("spec.template.spec.containers[name=antfly]"));
        let mut args = base;
        args["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["a", "c"]);
        assert_eq!(drifted(args).as_deref(), Some("spec.template.spec.containers[name=antfly].args[1]"));
    }

    #[test]
    fn quantities_and_numbers_match_by_value() {
        for (a, b) in [("1000m", "1"), ("0.5Gi", "512Mi"), ("1e3", "1k")] {
            assert_eq!(first_drift(&json!({"q": a}), &json!({"q": b})), None, "{a} {b}");
        }
        assert_eq!(first_drift(&json!({"q": "1Gi"}), &json!({"q": "2Gi"})).as_deref(), Some("q"));
        assert_eq!(first_drift(&json!({"p": 8080}), &json!({"p": "8080"})), None);
        assert_eq!(first_drift(&json!({"p": "http"}), &json!({"p": "https"})).as_deref(), Some("p"));
    }
}
