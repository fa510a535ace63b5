//! A YAML document as a tree of nodes that remember their line and column, built under a
//! budget that bounds what aliases may expand to.
//!
//! serde-saphyr resolves anchors, aliases and merge keys (`<<`, YAML 1.1) while it hands
//! events to [`Node`]'s `Deserialize`; every node and scalar byte delivered is charged to a
//! per-thread [`ExpansionBudget`], so a small file of aliases fails fast with an error
//! instead of growing a huge tree.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// A node and where it was written (for aliases: where the alias was used).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub line: u64,
    pub column: u64,
}

/// A YAML value after tag resolution, with YAML 1.1 booleans (`yes`, `on`), as kubectl reads them.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Integer(i128),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    /// Entries in document order; keys are nodes because YAML allows any scalar as a key.
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// The JSON-schema type name of the value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Integer(_) => "integer",
            Value::Float(_) => "number",
            Value::String(_) => "string",
            Value::Seq(_) => "array",
            Value::Map(_) => "object",
        }
    }

    /// A short rendering of a scalar for messages (`"3"`, `yes`, `1.5`).
    pub fn describe(&self) -> String {
        match self {
            Value::String(s) => {
                let shown: String = s.chars().take(40).collect();
                if shown.len() < s.len() { format!("string {shown:?}…") } else { format!("string {shown:?}") }
            }
            Value::Integer(i) => format!("integer {i}"),
            Value::Float(f) => format!("number {f}"),
            Value::Bool(b) => format!("boolean {b}"),
            other => other.kind().to_string(),
        }
    }
}

/// What one parse may build: every delivered node and scalar byte counts, aliases included.
#[derive(Clone, Copy, Debug)]
pub struct ExpansionBudget {
    /// Approximate JSON size of the expanded document, in bytes.
    pub bytes: usize,
    pub nodes: usize,
}

thread_local! {
    static REMAINING: Cell<Option<ExpansionBudget>> = const { Cell::new(None) };
}

/// Sets the budget for the parse run by `f` on this thread, and clears it afterwards.
pub fn with_budget<T>(budget: ExpansionBudget, f: impl FnOnce() -> T) -> T {
    struct Reset(Option<ExpansionBudget>);
    impl Drop for Reset {
        fn drop(&mut self) {
            REMAINING.with(|r| r.set(self.0));
        }
    }
    let _reset = Reset(REMAINING.with(|r| r.replace(Some(budget))));
    f()
}

/// Message of the error raised when the budget runs out; the caller recognises it.
pub const BUDGET_EXCEEDED: &str = "the document expands beyond the size limit";

fn charge<E: de::Error>(bytes: usize) -> Result<(), E> {
    REMAINING.with(|r| match r.get() {
        None => Ok(()),
        Some(left) if left.nodes == 0 || left.bytes < bytes => {
            r.set(Some(ExpansionBudget { bytes: 0, nodes: 0 }));
            Err(E::custom(BUDGET_EXCEEDED))
        }
        Some(left) => {
            r.set(Some(ExpansionBudget { bytes: left.bytes - bytes, nodes: left.nodes - 1 }));
            Ok(())
        }
    })
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Node { value: spanned.value, line: spanned.referenced.line(), column: spanned.referenced.column() })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

/// Punctuation a scalar or collection adds to its JSON form (quotes, commas, colons).
const OVERHEAD: usize = 3;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        charge(5 + OVERHEAD)?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        charge(20 + OVERHEAD)?;
        Ok(Value::Integer(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        charge(20 + OVERHEAD)?;
        Ok(Value::Integer(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        charge(40 + OVERHEAD)?;
        Ok(Value::Integer(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        charge(40 + OVERHEAD)?;
        Ok(i128::try_from(v).map(Value::Integer).unwrap_or(Value::Float(v as f64)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        charge(24 + OVERHEAD)?;
        Ok(Value::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        charge(v.len() + OVERHEAD)?;
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        charge(v.len() + OVERHEAD)?;
        Ok(Value::String(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Err(E::custom(format!("binary values ({} bytes) are not supported; use a string", v.len())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        charge(4 + OVERHEAD)?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        charge(OVERHEAD)?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        charge(OVERHEAD)?;
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<Node, Node>()? {
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}
