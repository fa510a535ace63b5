//! Syntax checks for Kubernetes names, labels, quantities and durations.

/// A DNS-1123 label: lowercase alphanumerics and '-', starting and ending alphanumeric.
pub fn dns1123_label(value: &str, max_len: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.len() > max_len {
        return Err(format!("must be at most {max_len} characters, got {}", value.len()));
    }
    let ok_chars = value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let bytes = value.as_bytes();
    let ok_ends = bytes[0].is_ascii_alphanumeric() && bytes[bytes.len() - 1].is_ascii_alphanumeric();
    if !ok_chars || !ok_ends {
        return Err(format!(
            "must consist of lowercase letters, digits and '-', and start and end with a letter or digit, got {value:?}"
        ));
    }
    Ok(())
}

/// A DNS-1035 label, as Service names must be: a DNS-1123 label that starts with a letter.
pub fn dns1035_label(value: &str, max_len: usize) -> Result<(), String> {
    dns1123_label(value, max_len)?;
    if !value.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(format!("must start with a lowercase letter (it names Services), got {value:?}"));
    }
    Ok(())
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters.
pub fn dns1123_subdomain(value: &str) -> Result<(), String> {
    if value.len() > 253 {
        return Err(format!("must be at most 253 characters, got {}", value.len()));
    }
    value
        .split('.')
        .try_for_each(|label| dns1123_label(label, 63))
        .map_err(|_| format!("must be a DNS subdomain (lowercase letters, digits, '-' and '.'), got {value:?}"))
}

/// The name part of a qualified name: at most 63 alphanumerics, '-', '_' or '.', alphanumeric at both ends.
fn qualified_name_part(value: &str) -> bool {
    let bytes = value.as_bytes();
    !value.is_empty()
        && value.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

/// A label or annotation key: an optional DNS-subdomain prefix and '/', then a name part.
pub fn qualified_name(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && dns1123_subdomain(prefix).is_err()
    {
        return Err(format!("key {key:?} has an invalid prefix {prefix:?}"));
    }
    if !qualified_name_part(name) {
        return Err(format!(
            "key {key:?} must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// A label value: empty, or a valid name part.
pub fn label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || qualified_name_part(value) {
        Ok(())
    } else {
        Err(format!(
            "value {value:?} must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ))
    }
}

/// A resource quantity such as `500m`, `2Gi`, `1.5` or `1e3`.
pub fn quantity(value: &str) -> Result<(), String> {
    let err = || format!("must be a quantity such as 500m, 2 or 10Gi, got {value:?}");
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    let number_len = unsigned.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
    let (number, suffix) = unsigned.split_at(number_len);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(err());
    }
    let suffix_ok = matches!(
        suffix,
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E"
    ) || suffix
        .strip_prefix(['e', 'E'])
        .map(|exp| exp.strip_prefix(['+', '-']).unwrap_or(exp))
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
    if suffix_ok { Ok(()) } else { Err(err()) }
}

/// Largest quantity accepted, in base units: Kubernetes keeps quantities as int64 milli-units.
pub const MAX_QUANTITY: f64 = 9.0e15;

/// The value of a quantity in base units (`500m` is 0.5, `1Ki` is 1024), after checking its syntax.
pub fn quantity_value(value: &str) -> Result<f64, String> {
    quantity(value)?;
    let err = || format!("must be a quantity such as 500m, 2 or 10Gi, got {value:?}");
    let number_len = value.bytes().take_while(|b| b.is_ascii_digit() || matches!(b, b'.' | b'+' | b'-')).count();
    let (number, suffix) = value.split_at(number_len);
    let number: f64 = number.parse().map_err(|_| err())?;
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024.0f64.powi(2),
        "Gi" => 1024.0f64.powi(3),
        "Ti" => 1024.0f64.powi(4),
        "Pi" => 1024.0f64.powi(5),
        "Ei" => 1024.0f64.powi(6),
        exponent => {
            let digits = exponent.get(1..).ok_or_else(err)?;
            let power: i32 = digits.parse().map_err(|_| err())?;
            10f64.powi(power.clamp(-400, 400))
        }
    };
    let result = number * scale;
    if !result.is_finite() || result.abs() > MAX_QUANTITY {
        return Err(format!("must be at most {MAX_QUANTITY:e} in base units, got {value:?}"));
    }
    Ok(result)
}

/// A quantity greater than zero.
pub fn positive_quantity(value: &str) -> Result<f64, String> {
    let amount = quantity_value(value)?;
    if amount > 0.0 { Ok(amount) } else { Err(format!("must be greater than zero, got {value:?}")) }
}

/// A container image reference: `[registry[:port]/]name[:tag][@algorithm:digest]`, with
/// lowercase name components, as the container runtime accepts them.
pub fn image_reference(value: &str) -> Result<(), String> {
    let err = |why: &str| {
        Err(format!("must be an image reference such as ghcr.io/antflydb/antfly:latest ({why}), got {value:?}"))
    };
    if value.is_empty() || value.trim() != value {
        return err("no surrounding whitespace");
    }
    if value.len() > 4096 {
        return err("at most 4096 characters");
    }
    let (rest, digest) = match value.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (value, None),
    };
    if let Some(digest) = digest {
        let ok = digest.split_once(':').is_some_and(|(algorithm, hex)| {
            !algorithm.is_empty()
                && algorithm
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'.' | b'_' | b'-'))
                && hex.len() >= 32
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        });
        if !ok {
            return err("the digest is algorithm:hex");
        }
    }
    let (name, tag) = match rest.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (rest, None),
    };
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
            && tag.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !ok {
            return err("a tag is up to 128 letters, digits, '_', '.' or '-'");
        }
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 {
        let first = components[0];
        let registry = first.contains(['.', ':']) || first == "localhost";
        if registry {
            let (host, port) = first.split_once(':').unwrap_or((first, ""));
            let host_ok = !host.is_empty()
                && host.split('.').all(|l| {
                    !l.is_empty()
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                });
            if !host_ok || !port.bytes().all(|b| b.is_ascii_digit()) {
                return err("the registry is host[:port]");
            }
            components.remove(0);
        }
    }
    let component_ok = |c: &str| {
        let bytes = c.as_bytes();
        !c.is_empty()
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
            && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
    };
    if components.is_empty() || !components.iter().all(|c| component_ok(c)) {
        return err("name components are lowercase letters, digits and separators");
    }
    Ok(())
}

/// A duration such as `30s`, `5m`, `1h30m`; returns seconds.
pub fn duration_seconds(value: &str) -> Result<u64, String> {
    let err = || format!("must be a duration such as 30s, 5m or 1h30m, got {value:?}");
    let mut total: u64 = 0;
    let mut digits = String::new();
    for ch in value.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
            continue;
        }
        let unit = match ch {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(err()),
        };
        let amount: u64 = digits.parse().map_err(|_| err())?;
        total = total.checked_add(amount.checked_mul(unit).ok_or_else(err)?).ok_or_else(err)?;
        digits.clear();
    }
    if !digits.is_empty() || value.is_empty() {
        return Err(err());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_follow_kubernetes_syntax() {
        for ok in ["500m", "2", "10Gi", "1.5", "1e3", "0.5Gi", "128Mi", "+1"] {
            assert!(quantity(ok).is_ok(), "{ok}");
        }
        for bad in ["", "abc", "10GB", "1..5", "Gi", ".", "1e"] {
            assert!(quantity(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn label_keys_allow_a_dns_prefix() {
        assert!(qualified_name("eks.amazonaws.com/capacityType").is_ok());
        assert!(qualified_name("workload").is_ok());
        assert!(qualified_name("Bad_Prefix!/x").is_err());
        assert!(qualified_name("-leading").is_err());
        assert!(label_value("").is_ok());
        assert!(label_value("true").is_ok());
        assert!(label_value("has space").is_err());
    }

    #[test]
    fn quantity_values_are_in_base_units() {
        assert_eq!(quantity_value("500m"), Ok(0.5));
        assert_eq!(quantity_value("2Ki"), Ok(2048.0));
        assert_eq!(quantity_value("1e3"), Ok(1000.0));
        assert_eq!(quantity_value("-1"), Ok(-1.0));
        assert!(quantity_value("1e99").is_err());
        assert!(positive_quantity("0").is_err());
        assert!(positive_quantity("-1Gi").is_err());
        assert_eq!(positive_quantity("1Gi"), Ok(1073741824.0));
    }

    #[test]
    fn image_references_follow_the_registry_grammar() {
        for ok in [
            "ghcr.io/antflydb/antfly:latest",
            "antfly",
            "localhost:5000/a/b:v1.2",
            "registry.example.com/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(image_reference(ok).is_ok(), "{ok}");
        }
        for bad in ["", " antfly", "Antfly/Server", "a:", "a:b:c/d", "x@sha256:zz", "a//b", "-a"] {
            assert!(image_reference(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dns1035_labels_start_with_a_letter() {
        assert!(dns1035_label("c1", 43).is_ok());
        assert!(dns1035_label("1c", 43).is_err());
    }

    #[test]
    fn durations_parse_to_seconds() {
        assert_eq!(duration_seconds("30s"), Ok(30));
        assert_eq!(duration_seconds("5m"), Ok(300));
        assert_eq!(duration_seconds("1h30m"), Ok(5400));
        assert!(duration_seconds("5").is_err());
        assert!(duration_seconds("").is_err());
        assert!(duration_seconds("1d").is_err());
    }

    #[test]
    fn dns_labels_reject_uppercase_and_edges() {
        assert!(dns1123_label("my-cluster", 40).is_ok());
        assert!(dns1123_label("My-cluster", 40).is_err());
        assert!(dns1123_label("cluster-", 40).is_err());
        assert!(dns1123_label(&"a".repeat(41), 40).is_err());
    }
}
