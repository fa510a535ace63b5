//! The WIT package is a public API: its version matches the host's, and a published version
//! never changes in place.

use std::fs;

use antfly_bundled_plugins::fixtures::wit_dir;
use antfly_plugin_host::{WIT_PACKAGE, WIT_VERSION};
use sha2::{Digest, Sha256};

/// sha256 of the `.wit` files of `wit/`, in name order, each preceded by its name.
const PUBLISHED_0_2_0: &str = "642d9e038b71236a89e9b82e486d0b16e4f0226b6e65b8b23f9b32cfbaf98521";

fn wit_digest() -> String {
    let mut files: Vec<_> = fs::read_dir(wit_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wit"))
        .collect();
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.file_name().unwrap().as_encoded_bytes());
        hasher.update(fs::read(&file).unwrap());
    }
    hex::encode(hasher.finalize())
}

#[test]
fn the_package_declares_the_version_the_host_implements() {
    let worlds = fs::read_to_string(wit_dir().join("worlds.wit")).unwrap();
    assert!(worlds.contains(&format!("package {WIT_PACKAGE}@{WIT_VERSION};")), "wit/worlds.wit");
}

#[test]
fn the_published_version_is_frozen() {
    assert_eq!(
        wit_digest(),
        PUBLISHED_0_2_0,
        "wit/ changed, but antfly:operator@{WIT_VERSION} is published and never changes in place: \
         add a new version (wit/ for the new one, the host's WIT_VERSION, and a copy of the old \
         package if the host keeps serving it) instead"
    );
}
