//! The operator's integration tests, in one binary so the workspace links it once: the
//! controller against a real kube-apiserver, the CLI as a user runs it, the deploy manifests,
//! and the agreement and property tests of the input pipeline.

mod generated;
mod support;

mod agreement;
mod backups;
mod controller;
mod crds;
mod day2;
mod deploy;
mod examples;
mod http;
mod plugin_kit;
mod plugin_metrics;
mod properties;
mod render_cli;
mod scaling;
mod upgrade;
mod version_cli;
