//! Every example in `examples/` renders (clusters) or parses (backups, restores).

use std::path::{Path, PathBuf};

use antfly_operator::backup::destination::Operation;
use antfly_operator::compose::{ExtensionResolver, NoPlugins};
use antfly_operator::extensions::{PluginOptions, PluginResolver};
use antfly_operator::parse::{Object, ParseOptions, parse};
use antfly_operator::render::{RenderError, render};

fn examples() -> Vec<(PathBuf, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples/ exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("readable example");
            (path, text)
        })
        .collect();
    files.sort();
    assert!(files.len() >= 15, "expected the seed examples, found {}", files.len());
    files
}

fn kind(text: &str) -> String {
    let value: serde_json::Value = serde_saphyr::from_str(text).expect("example is YAML");
    value["kind"].as_str().unwrap_or_default().to_string()
}

#[test]
fn every_cluster_example_renders_or_names_its_missing_plugin() {
    for (path, text) in examples().into_iter().filter(|(_, t)| kind(t) == "AntflyCluster") {
        match render(&text, &NoPlugins) {
            Ok(yaml) => assert!(yaml.contains("kind: StatefulSet"), "{}", path.display()),
            Err(RenderError::Invalid(err)) => {
                assert!(
                    err.problems.iter().all(|p| p.message.contains("is not available")),
                    "{}: {err}",
                    path.display()
                )
            }
            Err(err) => panic!("{}: {err}", path.display()),
        }
    }
}

#[test]
fn backup_and_restore_examples_parse_and_plan_with_the_first_party_destinations() {
    let resolver = PluginResolver::load(&PluginOptions::default()).expect("first-party plugins load");
    let mut seen = 0;
    for (path, text) in examples() {
        let parsed = parse(&text, ParseOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        match &parsed.documents[0].object {
            Object::Backup(backup) => {
                assert!(antfly_operator::backup::validate_backup(backup).is_empty(), "{}", path.display());
                let request = antfly_operator::backup::backup_destination(backup).expect("a destination");
                let plan = resolver.plan_destination(&request, Operation::Backup, "example-20300101000000");
                assert!(plan.is_ok(), "{}: {plan:?}", path.display());
                seen += 1;
            }
            Object::Restore(restore) => {
                assert_eq!(restore.spec.source.backup_id, "backup-20250101-020000");
                let request = antfly_operator::backup::restore_destination(restore).expect("a source");
                let plan = resolver.plan_destination(&request, Operation::Restore, &restore.spec.source.backup_id);
                assert!(plan.is_ok(), "{}: {plan:?}", path.display());
                seen += 1;
            }
            Object::Cluster(_) => {}
        }
    }
    assert_eq!(seen, 5, "every backup and restore example");
}

#[test]
fn the_embedded_examples_are_exactly_the_examples_directory() {
    let embedded: Vec<&str> = antfly_operator::examples::EXAMPLES.iter().map(|(name, _)| *name).collect();
    let on_disk: Vec<String> = examples()
        .iter()
        .map(|(path, _)| path.file_name().unwrap_or_default().to_string_lossy().into_owned())
        .collect();
    assert_eq!(embedded, on_disk, "update host/operator/src/examples.rs");
}
