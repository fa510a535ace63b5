//! The names of every object of one cluster, from the architecture seed's table.

use super::Role;

pub fn config_map(cluster: &str) -> String {
    format!("{cluster}-config")
}
/// StatefulSet and headless Service share this name.
pub fn role(cluster: &str, role: Role) -> String {
    format!("{cluster}-{}", role.as_str())
}
pub fn public_api(cluster: &str) -> String {
    format!("{cluster}-public-api")
}
pub fn pdb(cluster: &str, role: Role) -> String {
    format!("{cluster}-{}-pdb", role.as_str())
}
pub fn service_account(cluster: &str) -> String {
    cluster.to_string()
}
/// Name of the volume claim template; PVCs become `data-{cluster}-{role}-{n}`.
pub const DATA_VOLUME: &str = "data";
