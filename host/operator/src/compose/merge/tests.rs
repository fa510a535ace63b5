//! Tests of the merge rules.
