//! Property test: parse + validate + build never panics, on generated specs, their YAML damaged
//! at the text level, and random bytes. Every input ends in rendered YAML or a list of
//! problems; a problem always has a message, and a rendered input always parses back.
//!
//! Cases: `ANTFLY_PROPERTY_CASES` (default 10,000). Run alone with
//! `cargo test -p antfly-operator --release --test integration properties`.

use crate::generated;
use antfly_operator::compose::NoPlugins;
use antfly_operator::parse::{self, ParseOptions, UnknownFields};
use antfly_operator::render::{RenderError, RenderOptions, render_with};

fn cases() -> usize {
    std::env::var("ANTFLY_PROPERTY_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

/// Runs one input through the whole pure pipeline and checks what comes out.
fn check(label: &str, text: &str, lenient: bool) -> bool {
    let options = RenderOptions {
        parse: ParseOptions { unknown_fields: if lenient { UnknownFields::Warn } else { UnknownFields::Reject } },
    };
    match render_with(text, &NoPlugins, options) {
        Ok(rendered) => {
            let objects: Result<Vec<serde_json::Value>, _> = serde_saphyr::from_str_multiple(&rendered.yaml);
            let objects = objects.unwrap_or_else(|e| panic!("{label}: render printed YAML it cannot read: {e}"));
            assert!(objects.len() >= 5, "{label}: every cluster has at least five objects");
            true
        }
        Err(RenderError::Invalid(errors)) => {
            assert!(!errors.problems.is_empty(), "{label}: an invalid input names at least one problem");
            assert!(errors.problems.iter().all(|p| !p.message.is_empty()), "{label}: {errors}");
            false
        }
        Err(RenderError::WrongKind { .. }) => false,
        Err(other) => panic!("{label}: unexpected error {other}"),
    }
}

#[test]
fn parse_validate_and_build_never_panic() {
    let total = cases();
    let mut rendered = 0;
    for i in 0..total {
        let mut rng = generated::rng(1_000_000 + i as u64);
        let document = generated::cluster(&mut rng, "props", i, false);
        let yaml = generated::to_yaml(&document);
        let label = format!("case {i} (seed {:#x})", generated::SEED);
        let text = match i % 4 {
            // Damaged YAML: syntax errors, wrong types, unknown fields, aliases.
            0 | 1 => generated::mutate_text(&mut rng, &yaml),
            // Random printable bytes, sometimes behind a valid header.
            2 if generated::below(&mut rng, 10) == 0 => {
                let noise: String = (0..generated::below(&mut rng, 400))
                    .map(|_| char::from(32 + generated::below(&mut rng, 95) as u8))
                    .collect();
                format!("apiVersion: antfly.io/v1\nkind: AntflyCluster\n{noise}")
            }
            _ => yaml,
        };
        if check(&label, &text, generated::coin(&mut rng)) {
            rendered += 1;
        }
        // The parser alone must agree with itself on every input.
        let _ = parse::parse(&text, ParseOptions::default());
    }
    eprintln!("properties: {total} cases, {rendered} rendered, {} refused", total - rendered);
    assert!(total < 100 || rendered * 10 >= total, "at least a tenth of the cases render, got {rendered}");
}
