//! Schema helpers for fields that schemars cannot describe structurally.

use schemars::{Schema, SchemaGenerator, json_schema};

/// An arbitrary JSON object kept as-is by the API server (plugin settings).
pub fn preserve_unknown_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// A Kubernetes quantity, as in pod resources: a string such as `500m` or `10Gi`, or a whole
/// number such as `2`.
pub fn quantity_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "x-kubernetes-int-or-string": true
    })
}

/// Reads a quantity written as a string or as a whole number (`cpu: 2`) into its text.
pub mod quantity_text {
    use serde::de::{self, Deserializer, Visitor};

    struct QuantityVisitor;

    impl Visitor<'_> for QuantityVisitor {
        type Value = String;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a quantity such as 500m, 2 or 10Gi")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_any(QuantityVisitor)
    }

    /// For `Option<String>` fields (with `#[serde(default)]`).
    pub fn option<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
        struct OptionVisitor;
        impl<'de> Visitor<'de> for OptionVisitor {
            type Value = Option<String>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a quantity such as 500m, 2 or 10Gi, or null")
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }
            fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
                deserialize(deserializer).map(Some)
            }
        }
        deserializer.deserialize_option(OptionVisitor)
    }
}
