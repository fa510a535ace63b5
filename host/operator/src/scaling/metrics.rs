//! `metrics.k8s.io/v1beta1` pod metrics, and the utilisation the autoscaler reads from them:
//! the server container's usage over its request, averaged over the data pods.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::validate::syntax::quantity_value;

/// `PodMetricsList`, as much of it as the autoscaler reads.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PodMetricsList {
    #[serde(default)]
    pub items: Vec<PodMetrics>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct PodMetrics {
    pub metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    #[serde(default)]
    pub containers: Vec<ContainerMetrics>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ContainerMetrics {
    pub name: String,
    #[serde(default)]
    pub usage: BTreeMap<String, String>,
}

/// Average use of `resource` (`cpu` or `memory`) by `container` in each of `pods`, as a
/// percentage of `request`. Every pod must have a measurement: partial metrics say nothing
/// reliable about the whole, so they are an error naming what is missing.
pub fn utilization(
    list: &PodMetricsList,
    pods: &[String],
    container: &str,
    resource: &str,
    request: &str,
) -> Result<f64, String> {
    let request = quantity_value(request).map_err(|e| format!("the {resource} request: {e}"))?;
    if request <= 0.0 {
        return Err(format!("the {resource} request is zero"));
    }
    if pods.is_empty() {
        return Err("no data pods to measure".to_string());
    }
    let mut missing = Vec::new();
    let mut total = 0.0;
    for pod in pods {
        let usage = list
            .items
            .iter()
            .find(|m| m.metadata.name.as_deref() == Some(pod.as_str()))
            .and_then(|m| m.containers.iter().find(|c| c.name == container))
            .and_then(|c| c.usage.get(resource))
            .and_then(|q| quantity_value(q).ok());
        match usage {
            Some(used) => total += used / request * 100.0,
            None => missing.push(pod.as_str()),
        }
    }
    if !missing.is_empty() {
        return Err(format!(
            "no {resource} metrics for {} of {} data pods ({})",
            missing.len(),
            pods.len(),
            missing.join(", ")
        ));
    }
    Ok(total / pods.len() as f64)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn list() -> PodMetricsList {
        serde_json::from_value(json!({"kind": "PodMetricsList", "items": [
            {"metadata": {"name": "c-data-0"}, "containers": [
                {"name": "antfly", "usage": {"cpu": "250m", "memory": "512Mi"}},
                {"name": "istio-proxy", "usage": {"cpu": "900m", "memory": "1Gi"}}]},
            {"metadata": {"name": "c-data-1"}, "containers": [
                {"name": "antfly", "usage": {"cpu": "750m", "memory": "1Gi"}}]},
        ]}))
        .expect("a PodMetricsList")
    }

    #[test]
    fn utilisation_is_the_server_containers_use_over_its_request_averaged() {
        let pods = ["c-data-0".to_string(), "c-data-1".to_string()];
        assert_eq!(utilization(&list(), &pods, "antfly", "cpu", "1"), Ok(50.0));
        assert_eq!(utilization(&list(), &pods, "antfly", "memory", "1Gi"), Ok(75.0));
    }

    #[test]
    fn partial_or_missing_metrics_are_an_error_that_names_the_pods() {
        let pods = ["c-data-0".to_string(), "c-data-1".to_string(), "c-data-2".to_string()];
        assert_eq!(
            utilization(&list(), &pods, "antfly", "cpu", "1"),
            Err("no cpu metrics for 1 of 3 data pods (c-data-2)".to_string())
        );
        assert!(utilization(&list(), &[], "antfly", "cpu", "1").is_err());
        assert!(utilization(&list(), &pods[..1], "antfly", "cpu", "0").is_err());
    }
}
