//! The command line's helpers, apart from the library: input, plugin loading and the `plugins`
//! commands, and `run`.

pub mod input;
pub mod plugins;
pub mod run;
pub mod run_job;
pub mod scaffold;
