//! The plugin host's integration tests, in one binary so it is linked once: first-party and
//! second-language plugins through real wasmtime, hostile plugins, loading and the WIT
//! contract.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

mod destinations;
mod first_party;
mod hostile;
mod loading;
mod output_copy;
mod second_language;
mod wit_contract;
