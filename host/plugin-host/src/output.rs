//! Size of a plugin's result, for the output-size cap: the bytes of every string plus a
//! fixed cost per value, so that a list of a million empty strings counts too.

use crate::wit::{
    BackupPlan, ClaimMount, Kv, NodeSelectorRequirement, PluginError, PodEnvironment, PreferredTerm,
    SchedulingContribution, SecretEnv, SecretFile, Toleration, TopologySpread,
};

/// Fixed cost of any value, in bytes.
const VALUE_COST: usize = 8;

pub(crate) trait OutputSize {
    fn output_size(&self) -> usize;
}

impl OutputSize for String {
    fn output_size(&self) -> usize {
        VALUE_COST + self.len()
    }
}

macro_rules! scalar_size {
    ($($ty:ty),*) => {$(
        impl OutputSize for $ty {
            fn output_size(&self) -> usize {
                VALUE_COST
            }
        }
    )*};
}

scalar_size!(bool, i32, i64, crate::wit::Role);

impl OutputSize for () {
    fn output_size(&self) -> usize {
        0
    }
}

impl<T: OutputSize> OutputSize for Vec<T> {
    fn output_size(&self) -> usize {
        self.iter().fold(VALUE_COST, |sum, item| sum.saturating_add(item.output_size()))
    }
}

impl<T: OutputSize> OutputSize for Option<T> {
    fn output_size(&self) -> usize {
        self.as_ref().map_or(VALUE_COST, OutputSize::output_size)
    }
}

impl<T: OutputSize, E: OutputSize> OutputSize for Result<T, E> {
    fn output_size(&self) -> usize {
        match self {
            Ok(value) => value.output_size(),
            Err(error) => error.output_size(),
        }
    }
}

macro_rules! record_size {
    ($($ty:ty { $($field:ident),* $(,)? })*) => {$(
        impl OutputSize for $ty {
            fn output_size(&self) -> usize {
                VALUE_COST $(.saturating_add(self.$field.output_size()))*
            }
        }
    )*};
}

record_size! {
    Kv { key, value }
    PluginError { message, field }
    Toleration { key, operator, value, effect, toleration_seconds }
    NodeSelectorRequirement { key, operator, values }
    PreferredTerm { weight, match_expressions }
    TopologySpread { max_skew, topology_key, when_unsatisfiable, match_labels, min_domains }
    SchedulingContribution {
        role,
        node_selector,
        clear_node_selector,
        tolerations,
        preferred_node_affinity,
        topology_spread,
        suppress_default_zone_spread,
        pod_annotations,
        termination_grace_period_seconds,
        service_account_annotations,
    }
    SecretEnv { name, secret_name, secret_key }
    SecretFile { env_name, secret_name, secret_key }
    ClaimMount { claim_name, mount_path }
    PodEnvironment { env, secret_env, env_from_secrets, secret_files, claim_mounts }
    BackupPlan { location, job, server }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_count_their_bytes_and_a_fixed_cost() {
        let kv = Kv { key: "a".repeat(10), value: "b".repeat(20) };
        assert_eq!(kv.output_size(), VALUE_COST * 3 + 30);
        assert_eq!(vec![kv.clone(), kv].output_size(), VALUE_COST * 7 + 60);
    }
}
