//! The apiserver's audit log: the policy the harness installs and a parser
//! for the JSON lines it writes.

use std::path::Path;

use serde::Deserialize;

use crate::Error;

/// Audit policy: every request at level Metadata, so tests can count reads as well as writes.
pub(crate) const POLICY: &str = "\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
  - RequestReceived
rules:
  - level: Metadata
";

/// The verbs that change objects.
const WRITE_VERBS: [&str; 5] = ["create", "update", "patch", "delete", "deletecollection"];

/// The stage at which the apiserver has sent the whole response.
const RESPONSE_COMPLETE: &str = "ResponseComplete";

/// One completed request, from the apiserver's audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Unique id of the request.
    pub audit_id: String,
    /// Always `ResponseComplete`: other stages are dropped when parsing.
    pub stage: String,
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete` or `deletecollection`.
    pub verb: String,
    /// Authenticated user name (the client certificate's common name).
    pub user: String,
    /// Groups of the authenticated user.
    pub groups: Vec<String>,
    /// The user impersonated by the request, if any.
    pub impersonated_user: Option<String>,
    /// The client's `User-Agent` header.
    pub user_agent: Option<String>,
    /// Path and query of the request.
    pub request_uri: String,
    /// The object written, if the request was for a resource.
    pub object_ref: Option<ObjectRef>,
    /// HTTP status code of the response.
    pub response_code: Option<u16>,
}

/// The object an [`AuditEvent`] is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectRef {
    /// Plural resource name, such as `configmaps`.
    pub resource: String,
    /// Namespace, empty for cluster-scoped resources.
    pub namespace: String,
    /// Object name (may be empty, e.g. for `deletecollection`).
    pub name: String,
    /// Subresource, such as `status`, or empty.
    pub subresource: String,
    /// API group, empty for the core group.
    pub api_group: String,
    /// API version.
    pub api_version: String,
}

impl AuditEvent {
    /// Whether the request changes an object.
    pub fn is_write(&self) -> bool {
        WRITE_VERBS.contains(&self.verb.as_str())
    }

    /// The plural resource name, or `""`.
    pub fn resource(&self) -> &str {
        self.object_ref.as_ref().map_or("", |o| o.resource.as_str())
    }

    /// The namespace, or `""`.
    pub fn namespace(&self) -> &str {
        self.object_ref.as_ref().map_or("", |o| o.namespace.as_str())
    }

    /// The object name, or `""`.
    pub fn name(&self) -> &str {
        self.object_ref.as_ref().map_or("", |o| o.name.as_str())
    }

    /// The subresource, or `""`.
    pub fn subresource(&self) -> &str {
        self.object_ref.as_ref().map_or("", |o| o.subresource.as_str())
    }

    /// Whether the response was a 2xx success.
    pub fn succeeded(&self) -> bool {
        self.response_code.is_some_and(|c| (200..300).contains(&c))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent {
    #[serde(rename = "auditID", default)]
    audit_id: String,
    #[serde(default)]
    stage: String,
    #[serde(default)]
    verb: String,
    #[serde(default)]
    user: RawUser,
    impersonated_user: Option<RawUser>,
    user_agent: Option<String>,
    #[serde(rename = "requestURI", default)]
    request_uri: String,
    object_ref: Option<RawObjectRef>,
    response_status: Option<RawStatus>,
}

#[derive(Deserialize, Default)]
struct RawUser {
    #[serde(default)]
    username: String,
    #[serde(default)]
    groups: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawObjectRef {
    #[serde(default)]
    resource: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    subresource: String,
    #[serde(default)]
    api_group: String,
    #[serde(default)]
    api_version: String,
}

#[derive(Deserialize)]
struct RawStatus {
    code: Option<u16>,
}

impl From<RawEvent> for AuditEvent {
    fn from(raw: RawEvent) -> Self {
        Self {
            audit_id: raw.audit_id,
            stage: raw.stage,
            verb: raw.verb,
            user: raw.user.username,
            groups: raw.user.groups,
            impersonated_user: raw.impersonated_user.map(|u| u.username),
            user_agent: raw.user_agent,
            request_uri: raw.request_uri,
            object_ref: raw.object_ref.map(|o| ObjectRef {
                resource: o.resource,
                namespace: o.namespace,
                name: o.name,
                subresource: o.subresource,
                api_group: o.api_group,
                api_version: o.api_version,
            }),
            response_code: raw.response_status.and_then(|s| s.code),
        }
    }
}

/// The `ResponseComplete` events of the audit log at `path`, oldest first.
///
/// A missing file means no events yet. A last line without its newline is
/// still being written and is left for the next read.
pub(crate) fn read(path: &Path) -> Result<Vec<AuditEvent>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    parse(&text, path)
}

fn parse(text: &str, path: &Path) -> Result<Vec<AuditEvent>, Error> {
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    let mut events = Vec::new();
    for (index, line) in complete.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let raw: RawEvent = serde_json::from_str(line).map_err(|source| Error::AuditLog {
            path: path.to_path_buf(),
            line: index + 1,
            source,
        })?;
        if raw.stage == RESPONSE_COMPLETE {
            events.push(raw.into());
        }
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/ns/configmaps?fieldManager=x","verb":"create","user":{"username":"alice","groups":["g1","system:authenticated"]},"sourceIPs":["127.0.0.1"],"userAgent":"kube-rs/5","objectRef":{"resource":"configmaps","namespace":"ns","name":"cm","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201}}"#;
    const PANIC: &str = r#"{"auditID":"a2","stage":"Panic","verb":"update","user":{"username":"bob"}}"#;

    #[test]
    fn parses_complete_events_only() {
        let text = format!("{CREATE}\n{PANIC}\n{{\"auditID\":\"partial");
        let events = parse(&text, Path::new("audit.log")).expect("parse");
        assert_eq!(events.len(), 1);
        let e = &events[0];
        assert_eq!(e.audit_id, "a1");
        assert_eq!(e.verb, "create");
        assert_eq!(e.user, "alice");
        assert_eq!(e.groups, ["g1", "system:authenticated"]);
        assert_eq!(e.user_agent.as_deref(), Some("kube-rs/5"));
        assert_eq!(e.resource(), "configmaps");
        assert_eq!(e.namespace(), "ns");
        assert_eq!(e.name(), "cm");
        assert_eq!(e.subresource(), "");
        assert_eq!(e.response_code, Some(201));
        assert!(e.succeeded());
    }

    #[test]
    fn reports_the_bad_line() {
        let text = format!("{CREATE}\nnot json\n");
        let err = parse(&text, Path::new("audit.log")).expect_err("bad line");
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}
