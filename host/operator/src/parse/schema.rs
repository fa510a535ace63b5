//! Checks a YAML [`Node`] tree against a CRD's structural OpenAPI schema, as the API server
//! does, and converts it to JSON.
//!
//! Every problem is collected with its field path and line: wrong types, unknown fields,
//! missing required fields, enum, range and length violations. A value with a problem is left
//! out of the JSON (so the rest can still be deserialised and validated). `null` means
//! "absent" for every field, as the API server prunes nulls of non-nullable fields.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use serde_json::{Map, Number, Value as Json};

use super::tree::{Node, Value};
use super::{Problem, UnknownFields};

/// Where each field of a document was written, by field path.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Locations(BTreeMap<String, (u64, u64)>);

impl Locations {
    /// Line and column of `path`, or of its closest parent that was written.
    pub fn find(&self, path: &str) -> Option<(u64, u64)> {
        let mut path = path;
        loop {
            if let Some(found) = self.0.get(path) {
                return Some(*found);
            }
            let cut = path.rfind(['.', '['])?;
            path = &path[..cut];
        }
    }

    pub(super) fn insert(&mut self, path: &str, node: &Node) {
        self.0.insert(path.to_string(), (node.line, node.column));
    }
}

/// State of one document's walk.
pub struct Walk<'a> {
    pub unknown_fields: UnknownFields,
    pub problems: &'a mut Vec<Problem>,
    pub warnings: &'a mut Vec<Problem>,
    pub locations: &'a mut Locations,
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// A mapping key as kubectl turns it into a JSON key: scalars become their text.
pub fn key_text(key: &Node) -> Option<String> {
    match &key.value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Null => Some("null".to_string()),
        Value::Seq(_) | Value::Map(_) => None,
    }
}

fn expected(schema_type: &str) -> &'static str {
    match schema_type {
        "object" => "an object",
        "array" => "a list",
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean (true or false)",
        _ => "a value of another type",
    }
}

impl Walk<'_> {
    fn problem(&mut self, path: &str, node: &Node, message: impl Into<String>) {
        self.problems.push(Problem::at(path, node, message));
    }

    /// The node as JSON after checking it against `schema`; `None` when it is null or invalid.
    pub fn value(&mut self, path: &str, node: &Node, schema: &JSONSchemaProps) -> Option<Json> {
        self.locations.insert(path, node);
        if matches!(node.value, Value::Null) {
            return None;
        }
        let json = self.typed(path, node, schema)?;
        self.constraints(path, node, schema, &json).then_some(json)
    }

    fn typed(&mut self, path: &str, node: &Node, schema: &JSONSchemaProps) -> Option<Json> {
        let int_or_string = schema.x_kubernetes_int_or_string == Some(true);
        let schema_type = schema.type_.as_deref().unwrap_or("");
        if int_or_string {
            return match &node.value {
                Value::String(s) => Some(Json::String(s.clone())),
                Value::Float(f) if f.fract() != 0.0 => {
                    self.problem(path, node, format!("must be a whole number or a string, got number {f}; quote it"));
                    None
                }
                Value::Integer(_) | Value::Float(_) => self.integer(path, node, schema),
                other => {
                    self.problem(path, node, format!("must be an integer or a string, got {}", other.describe()));
                    None
                }
            };
        }
        match (schema_type, &node.value) {
            ("object", Value::Map(entries)) => Some(self.object(path, node, entries, schema)),
            ("array", Value::Seq(items)) => Some(self.array(path, items, schema)),
            ("string", Value::String(s)) => Some(Json::String(s.clone())),
            ("boolean", Value::Bool(b)) => Some(Json::Bool(*b)),
            ("integer", Value::Integer(_) | Value::Float(_)) => self.integer(path, node, schema),
            ("number", Value::Integer(i)) => Some(integer_json(*i).unwrap_or(Json::Null)),
            ("number", Value::Float(f)) => Number::from_f64(*f).map(Json::Number).or_else(|| {
                self.problem(path, node, "must be a finite number");
                None
            }),
            // No type: anything goes (`x-kubernetes-preserve-unknown-fields` blobs).
            ("", _) => Some(self.raw(path, node)),
            (wanted, other) => {
                let hint = match (wanted, other) {
                    ("string", Value::Bool(_) | Value::Integer(_) | Value::Float(_) | Value::Null) => {
                        "; quote it to make it a string"
                    }
                    ("boolean", Value::String(_)) | ("integer" | "number", Value::String(_)) => "; remove the quotes",
                    _ => "",
                };
                self.problem(path, node, format!("must be {}, got {}{hint}", expected(wanted), other.describe()));
                None
            }
        }
    }

    /// Integers, and whole numbers written as `3.0` (kubectl sends those as integers).
    fn integer(&mut self, path: &str, node: &Node, schema: &JSONSchemaProps) -> Option<Json> {
        let value = match node.value {
            Value::Integer(i) => Some(i),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Some(f as i128),
            _ => None,
        };
        let Some(value) = value else {
            self.problem(path, node, format!("must be an integer, got {}", node.value.describe()));
            return None;
        };
        let range = match schema.format.as_deref() {
            Some("int32") => Some((i128::from(i32::MIN), i128::from(i32::MAX))),
            _ => Some((i128::from(i64::MIN), i128::from(i64::MAX))),
        };
        if let Some((min, max)) = range
            && !(min..=max).contains(&value)
        {
            self.problem(path, node, format!("must be between {min} and {max}, got {value}"));
            return None;
        }
        integer_json(value)
    }

    fn object(&mut self, path: &str, node: &Node, entries: &[(Node, Node)], schema: &JSONSchemaProps) -> Json {
        let mut out = Map::new();
        let properties = schema.properties.as_ref();
        let additional = match &schema.additional_properties {
            Some(JSONSchemaPropsOrBool::Schema(s)) => Some(&**s),
            _ => None,
        };
        let preserve = schema.x_kubernetes_preserve_unknown_fields == Some(true)
            || matches!(schema.additional_properties, Some(JSONSchemaPropsOrBool::Bool(true)));
        for (key, value) in entries {
            let Some(name) = key_text(key) else {
                self.problem(path, key, "mapping keys must be strings");
                continue;
            };
            if let Some(property) = properties.and_then(|p| p.get(&name)) {
                let field = child(path, &name);
                if let Some(json) = self.value(&field, value, property) {
                    out.insert(name, json);
                }
            } else if let Some(additional) = additional {
                let field = format!("{path}[{name}]");
                if let Some(json) = self.value(&field, value, additional) {
                    out.insert(name, json);
                }
            } else if preserve {
                let field = child(path, &name);
                self.locations.insert(&field, value);
                out.insert(name, self.raw(&field, value));
            } else {
                let field = child(path, &name);
                let known: Vec<&str> = properties.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
                let message = match closest(&name, &known) {
                    Some(near) => format!("unknown field {name:?} (did you mean {near:?}?)"),
                    None => format!("unknown field {name:?}"),
                };
                let problem = Problem::at(&field, key, message);
                match self.unknown_fields {
                    UnknownFields::Reject => self.problems.push(problem),
                    UnknownFields::Warn => self.warnings.push(problem),
                }
            }
        }
        for required in schema.required.iter().flatten() {
            let written = entries
                .iter()
                .any(|(k, v)| key_text(k).as_deref() == Some(required.as_str()) && !matches!(v.value, Value::Null));
            if !written {
                self.problem(&child(path, required), node, "required field is missing");
            }
        }
        Json::Object(out)
    }

    fn array(&mut self, path: &str, items: &[Node], schema: &JSONSchemaProps) -> Json {
        let item_schema = match &schema.items {
            Some(JSONSchemaPropsOrArray::Schema(s)) => Some(&**s),
            _ => None,
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let field = format!("{path}[{i}]");
            match item_schema {
                Some(item_schema) => {
                    if matches!(item.value, Value::Null) {
                        self.locations.insert(&field, item);
                        let wanted = item_schema.type_.as_deref().unwrap_or("a value");
                        self.problem(&field, item, format!("must be {}, got null", expected(wanted)));
                    } else if let Some(json) = self.value(&field, item, item_schema) {
                        out.push(json);
                    }
                }
                None => out.push(self.raw(&field, item)),
            }
        }
        Json::Array(out)
    }

    /// Unchecked content (`x-kubernetes-preserve-unknown-fields`), kept as written.
    fn raw(&mut self, path: &str, node: &Node) -> Json {
        // Plugins name fields inside their settings; their errors find the line through this.
        self.locations.insert(path, node);
        match &node.value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Integer(i) => integer_json(*i).unwrap_or(Json::Null),
            Value::Float(f) => Number::from_f64(*f).map(Json::Number).unwrap_or(Json::Null),
            Value::String(s) => Json::String(s.clone()),
            Value::Seq(items) => {
                Json::Array(items.iter().enumerate().map(|(i, item)| self.raw(&format!("{path}[{i}]"), item)).collect())
            }
            Value::Map(entries) => {
                let mut out = Map::new();
                for (key, value) in entries {
                    match key_text(key) {
                        Some(name) => {
                            let json = self.raw(&child(path, &name), value);
                            out.insert(name, json);
                        }
                        None => self.problem(path, key, "mapping keys must be strings"),
                    }
                }
                Json::Object(out)
            }
        }
    }

    /// enum, minimum/maximum, length and item-count constraints; true when all hold.
    fn constraints(&mut self, path: &str, node: &Node, schema: &JSONSchemaProps, json: &Json) -> bool {
        let before = self.problems.len();
        if let Some(allowed) = &schema.enum_
            && !allowed.iter().any(|a| a.0 == *json)
        {
            let names: Vec<String> =
                allowed.iter().map(|a| a.0.as_str().map(str::to_string).unwrap_or_else(|| a.0.to_string())).collect();
            self.problem(path, node, format!("must be one of {}, got {}", names.join(", "), node.value.describe()));
        }
        if let Some(number) = json.as_f64() {
            if let Some(min) = schema.minimum {
                let below = if schema.exclusive_minimum == Some(true) { number <= min } else { number < min };
                if below {
                    self.problem(path, node, format!("must be at least {min}, got {number}"));
                }
            }
            if let Some(max) = schema.maximum {
                let above = if schema.exclusive_maximum == Some(true) { number >= max } else { number > max };
                if above {
                    self.problem(path, node, format!("must be at most {max}, got {number}"));
                }
            }
        }
        if let Json::String(s) = json {
            let length = s.chars().count() as i64;
            if let Some(min) = schema.min_length.filter(|min| length < *min) {
                self.problem(path, node, format!("must be at least {min} characters long"));
            }
            if let Some(max) = schema.max_length.filter(|max| length > *max) {
                self.problem(path, node, format!("must be at most {max} characters long, got {length}"));
            }
        }
        if let Json::Array(items) = json {
            self.unique_items(path, node, schema, items);
            let count = items.len() as i64;
            if let Some(min) = schema.min_items.filter(|min| count < *min) {
                self.problem(path, node, format!("must have at least {min} items"));
            }
            if let Some(max) = schema.max_items.filter(|max| count > *max) {
                self.problem(path, node, format!("must have at most {max} items, got {count}"));
            }
        }
        self.problems.len() == before
    }
}

impl Walk<'_> {
    /// `x-kubernetes-list-type`: `set` items, and `map` items by their keys, are unique.
    fn unique_items(&mut self, path: &str, node: &Node, schema: &JSONSchemaProps, items: &[Json]) {
        let keys = schema.x_kubernetes_list_map_keys.as_deref().unwrap_or_default();
        let identity = |item: &Json| -> Json {
            match schema.x_kubernetes_list_type.as_deref() {
                Some("map") => Json::Array(keys.iter().map(|k| item.get(k).cloned().unwrap_or(Json::Null)).collect()),
                _ => item.clone(),
            }
        };
        if !matches!(schema.x_kubernetes_list_type.as_deref(), Some("map" | "set")) {
            return;
        }
        let mut seen = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let id = identity(item);
            if seen.contains(&id) {
                let what = if keys.is_empty() { "a value".to_string() } else { keys.join(" and ") };
                self.problem(&format!("{path}[{i}]"), node, format!("duplicates an earlier item's {what}: {id}"));
            } else {
                seen.push(id);
            }
        }
    }
}

fn integer_json(value: i128) -> Option<Json> {
    if let Ok(v) = i64::try_from(value) {
        Some(Json::Number(v.into()))
    } else {
        u64::try_from(value).ok().map(|v| Json::Number(v.into()))
    }
}

/// The known field closest to a misspelt one, when it is close enough to be a typo.
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (edit_distance(&lower, &k.to_ascii_lowercase()), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Schema keywords this walker understands; a test checks the CRDs use no others.
pub const UNDERSTOOD_KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "additionalProperties",
    "items",
    "required",
    "nullable",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "format",
    "default",
    "description",
    "title",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    // Evaluated by the API server; `validate` repeats each rule.
    "x-kubernetes-validations",
];
