//! antfly-operator: the Kubernetes operator for the Antfly database.
//!
//! Pure layers (no API client): [`base`] vocabulary, [`api`] types, [`validate`], [`compose`],
//! [`build`] and [`status`]. [`extensions`] serves plugin contributions. [`pipeline`] runs
//! validate → plugins → build; `render` and the [`controller`] both call it. See
//! `docs/architecture.md`.

pub mod api;
pub mod backup;
pub mod base;
pub mod build;
pub mod compose;
pub mod controller;
pub mod examples;
pub mod extensions;
pub mod parse;
pub mod pipeline;
pub mod render;
pub mod rollout;
pub mod scaling;
pub mod status;
pub mod validate;

#[cfg(test)]
mod fixtures;
