//! Composition of plugin contributions with the user's settings.
//!
//! Plugins never return whole objects: they return [`SchedulingContribution`]s and
//! [`MeshContribution`]s, which [`merge`] folds into a pod spec under the merge rules of
//! the scheduling seed ("How Cloud-Provider Scheduling Composes").

mod contribution;
pub mod merge;

pub use contribution::*;
