//! Parsing of `antfly.io/v1` YAML as the API server reads it: every problem at once, each with
//! its field path and line, and a bounded cost.
//!
//! 1. The text must be at most [`MAX_INPUT_BYTES`] (the API server's request limit).
//! 2. serde-saphyr parses it into [`tree::Node`]s: YAML 1.1 booleans and merge keys (`<<`) as
//!    kubectl applies them, duplicate keys refused, and budgets on events, depth, anchors,
//!    aliases and on what aliases expand to ([`MAX_INPUT_BYTES`] of JSON in all).
//! 3. Each document is checked against its CRD's structural schema ([`schema`]): types,
//!    unknown fields (refused, as `kubectl --validate=strict` does, or warned about with
//!    [`UnknownFields::Warn`]), required fields, enums and ranges. `null` means absent.
//! 4. The checked JSON is deserialised into the typed object, and must fit in
//!    [`MAX_OBJECT_BYTES`] (etcd's request limit).

pub mod schema;
pub mod tree;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::OnceLock;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;

use crate::api::{AntflyBackup, AntflyCluster, AntflyRestore};
pub use schema::Locations;
use schema::Walk;
use tree::{ExpansionBudget, Node, Value};

/// Largest input accepted: the API server refuses request bodies over 3 MiB.
pub const MAX_INPUT_BYTES: usize = 3 << 20;
/// Largest object accepted, as JSON: etcd refuses requests over 1.5 MiB by default.
pub const MAX_OBJECT_BYTES: usize = 3 << 19;
/// Most documents in one input.
pub const MAX_DOCUMENTS: usize = 100;
/// Most YAML nodes the input may expand to, aliases included.
pub const MAX_NODES: usize = 250_000;
/// Deepest nesting accepted; the deepest field of the CRDs is about 15 levels down.
pub const MAX_DEPTH: usize = 100;

/// What to do with a field the schema does not know.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownFields {
    /// Refuse it, as `kubectl apply --validate=strict` does (the default).
    #[default]
    Reject,
    /// Drop it with a warning, as the API server does with `--validate=warn`.
    Warn,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ParseOptions {
    pub unknown_fields: UnknownFields,
}

/// One problem in the input, with the field path and where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Field path such as `spec.metadataNodes.replicas`; empty for the document itself.
    pub path: String,
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub message: String,
}

impl Problem {
    pub fn at(path: &str, node: &Node, message: impl Into<String>) -> Self {
        Self { path: path.to_string(), line: Some(node.line), column: Some(node.column), message: message.into() }
    }

    /// A problem without a position (e.g. from validation), placed by `locations` when it can.
    pub fn located(path: &str, message: impl Into<String>, locations: Option<&Locations>) -> Self {
        let position = locations.and_then(|l| l.find(path));
        Self {
            path: path.to_string(),
            line: position.map(|p| p.0),
            column: position.map(|p| p.1),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.path.is_empty(), self.line) {
            (false, Some(line)) => write!(f, "{} (line {line}): {}", self.path, self.message),
            (false, None) => write!(f, "{}: {}", self.path, self.message),
            (true, Some(line)) => write!(f, "line {line}: {}", self.message),
            (true, None) => f.write_str(&self.message),
        }
    }
}

/// A typed `antfly.io/v1` object.
#[derive(Clone, Debug)]
pub enum Object {
    Cluster(Box<AntflyCluster>),
    Backup(Box<AntflyBackup>),
    Restore(Box<AntflyRestore>),
}

impl Object {
    pub fn kind(&self) -> &'static str {
        match self {
            Object::Cluster(_) => "AntflyCluster",
            Object::Backup(_) => "AntflyBackup",
            Object::Restore(_) => "AntflyRestore",
        }
    }
}

/// One parsed document and where its fields were written.
#[derive(Clone, Debug)]
pub struct Document {
    pub object: Object,
    pub locations: Locations,
    /// Line where the document starts.
    pub line: u64,
}

/// Every document of an input that parsed without problems.
#[derive(Clone, Debug)]
pub struct Parsed {
    pub documents: Vec<Document>,
    /// Unknown fields dropped under [`UnknownFields::Warn`].
    pub warnings: Vec<Problem>,
}

/// Every problem of an input, plus what could still be built from the valid parts, so that
/// validation can report its own findings in the same list.
#[derive(Clone, Debug, thiserror::Error)]
pub struct ParseErrors {
    pub problems: Vec<Problem>,
    pub warnings: Vec<Problem>,
    /// Documents rebuilt without the values that had problems.
    pub partial: Vec<Document>,
}

impl fmt::Display for ParseErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.problems.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl ParseErrors {
    fn whole(problem: Problem) -> Self {
        Self { problems: vec![problem], warnings: Vec::new(), partial: Vec::new() }
    }
}

const API_VERSION: &str = "antfly.io/v1";
const KINDS: [&str; 3] = ["AntflyCluster", "AntflyBackup", "AntflyRestore"];

/// Parse every document of `text`. Empty documents are skipped, as kubectl skips them.
pub fn parse(text: &str, options: ParseOptions) -> Result<Parsed, ParseErrors> {
    if text.len() > MAX_INPUT_BYTES {
        return Err(ParseErrors::whole(Problem {
            path: String::new(),
            line: None,
            column: None,
            message: format!(
                "the input is {} bytes; the API server accepts at most {MAX_INPUT_BYTES} bytes (3 MiB)",
                text.len()
            ),
        }));
    }
    let nodes = read_yaml(text)?;
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let mut documents = Vec::new();
    for node in nodes.iter().filter(|n| !matches!(n.value, Value::Null)) {
        let before = problems.len();
        let mut locations = Locations::default();
        let document = document(node, options, &mut problems, &mut warnings, &mut locations);
        let clean = problems.len() == before;
        match document {
            Ok(object) => documents.push(Document { object, locations, line: node.line }),
            // Problems already explain why a partial document cannot be built.
            Err(_) if !clean => {}
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        Ok(Parsed { documents, warnings })
    } else {
        Err(ParseErrors { problems, warnings, partial: documents })
    }
}

fn read_yaml(text: &str) -> Result<Vec<Node>, ParseErrors> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_documents: MAX_DOCUMENTS,
            max_depth: MAX_DEPTH,
            max_nodes: MAX_NODES,
            max_aliases: 10_000,
            max_anchors: 10_000,
            max_merge_keys: 10_000,
            max_total_scalar_bytes: MAX_INPUT_BYTES,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: MAX_NODES,
            max_replay_stack_depth: 64,
        },
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::Error,
        merge_keys: serde_saphyr::MergeKeyPolicy::Merge,
        // YAML 1.1 reads `0755` as octal, as kubectl does.
        legacy_octal_numbers: true,
        with_snippet: false,
    };
    let budget = ExpansionBudget { bytes: MAX_INPUT_BYTES, nodes: MAX_NODES };
    tree::with_budget(budget, || serde_saphyr::from_str_multiple_with_options::<Node, Vec<Node>>(text, options))
        .map_err(|error| ParseErrors::whole(syntax_problem(&error)))
}

fn syntax_problem(error: &serde_saphyr::Error) -> Problem {
    let location = error.location();
    let mut message = error.to_string();
    // The position is reported separately.
    if let Some(cut) = message.find(" at line ") {
        message.truncate(cut);
    }
    if message.contains(tree::BUDGET_EXCEEDED) {
        message =
            format!("{message}: through aliases the input would exceed {MAX_INPUT_BYTES} bytes or {MAX_NODES} values");
    }
    Problem {
        path: String::new(),
        line: location.map(|l| l.line()),
        column: location.map(|l| l.column()),
        message: format!("invalid YAML: {message}"),
    }
}

/// Check one document against the schema of its kind and build the typed object. Problems go
/// to `problems`; the `Err` is for a document that cannot be built for another reason.
fn document(
    node: &Node,
    options: ParseOptions,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
    locations: &mut Locations,
) -> Result<Object, Problem> {
    let Value::Map(entries) = &node.value else {
        return Err(Problem::at("", node, format!("a document must be a mapping, got {}", node.value.describe())));
    };
    let text_of = |name: &str| {
        entries.iter().find(|(k, _)| schema::key_text(k).as_deref() == Some(name)).and_then(|(_, v)| match &v.value {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        })
    };
    let (api_version, kind) = (text_of("apiVersion").unwrap_or(""), text_of("kind").unwrap_or(""));
    if api_version != API_VERSION || !KINDS.contains(&kind) {
        return Err(Problem::at(
            "",
            node,
            format!(
                "expected kind {} in apiVersion {API_VERSION}, got kind {kind:?} in apiVersion {api_version:?}",
                KINDS.join(", ")
            ),
        ));
    }
    let schema = root_schema(kind);
    let mut walk = Walk { unknown_fields: options.unknown_fields, problems, warnings, locations };
    let json = walk.value("", node, schema).unwrap_or(serde_json::Value::Null);
    let size = serde_json::to_vec(&json).map(|v| v.len()).unwrap_or(0);
    if size > MAX_OBJECT_BYTES {
        walk.problems.push(Problem::at(
            "",
            node,
            format!(
                "the {kind} is {size} bytes as JSON; Kubernetes stores objects of at most {MAX_OBJECT_BYTES} bytes"
            ),
        ));
    }
    let build = |json| -> Result<Object, Problem> {
        Ok(match kind {
            "AntflyCluster" => Object::Cluster(Box::new(typed(node, json)?)),
            "AntflyBackup" => Object::Backup(Box::new(typed(node, json)?)),
            _ => Object::Restore(Box::new(typed(node, json)?)),
        })
    };
    build(json)
}

fn typed<T: DeserializeOwned>(node: &Node, json: serde_json::Value) -> Result<T, Problem> {
    serde_json::from_value(json).map_err(|e| Problem::at("", node, format!("cannot be read: {e}")))
}

/// The CRD's schema for `kind`, with `apiVersion`, `kind` and `metadata` (ObjectMeta) added,
/// as the API server checks them for every object.
fn root_schema(kind: &str) -> &'static JSONSchemaProps {
    static SCHEMAS: OnceLock<Vec<(String, JSONSchemaProps)>> = OnceLock::new();
    let schemas = SCHEMAS.get_or_init(|| {
        let metadata = object_meta_schema();
        crate::api::crds()
            .into_iter()
            .map(|crd| {
                let mut root = crd
                    .spec
                    .versions
                    .first()
                    .and_then(|v| v.schema.as_ref())
                    .and_then(|s| s.open_api_v3_schema.clone())
                    .unwrap_or_default();
                let properties = root.properties.get_or_insert_with(Default::default);
                let string = JSONSchemaProps { type_: Some("string".into()), ..Default::default() };
                properties.insert("apiVersion".into(), string.clone());
                properties.insert("kind".into(), string);
                properties.insert("metadata".into(), metadata.clone());
                (crd.spec.names.kind, root)
            })
            .collect()
    });
    schemas.iter().find(|(k, _)| k == kind).map(|(_, s)| s).unwrap_or_else(|| &schemas[0].1)
}

/// ObjectMeta's structural schema, generated the way kube-derive generates the CRDs'.
pub fn object_meta_schema() -> JSONSchemaProps {
    let generator = schemars::generate::SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .with_transform(schemars::transform::AddNullable::default())
        .with_transform(kube::core::schema::StructuralSchemaRewriter)
        .into_generator();
    serde_json::to_value(generator.into_root_schema_for::<ObjectMeta>())
        .and_then(serde_json::from_value)
        .unwrap_or_default()
}
