//! Port numbers from the architecture seed's "Port Defaults" table.

use super::Role;

pub const METADATA_API: i32 = 12377;
pub const METADATA_RAFT: i32 = 9017;
pub const DATA_API: i32 = 12380;
pub const DATA_RAFT: i32 = 9021;
pub const HEALTH: i32 = 4200;
/// [`HEALTH`] as a port to dial.
pub const HEALTH_PORT: u16 = 4200;
pub const PUBLIC_API: i32 = 80;

/// API and Raft ports of one role.
pub fn role_ports(role: Role) -> (i32, i32) {
    match role {
        Role::Metadata => (METADATA_API, METADATA_RAFT),
        Role::Data => (DATA_API, DATA_RAFT),
    }
}
