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
