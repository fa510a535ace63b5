//! antfly-operator: the Kubernetes operator for the Antfly database.
//!
//! Pure layers (no API client): [`api`] types, [`validate`], [`build`] and [`compose`].
//! [`render`] runs them end to end, exactly as the controller does before it applies.

pub mod api;
pub mod build;
pub mod compose;
pub mod controller;
pub mod extensions;
pub mod parse;
pub mod render;
pub mod status;
pub mod validate;

#[cfg(test)]
mod fixtures;
