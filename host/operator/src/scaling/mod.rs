//! Data-node scaling, as pure decisions from what the controller observed: the autoscaler's
//! recommendation ([`autoscale`]) and the drain-gated scale-down ([`drain`]). Metadata nodes
//! are never scaled here: their count is the spec's, fixed for Raft.

pub mod autoscale;
pub mod drain;
pub mod metrics;
