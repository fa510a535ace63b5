//! Generated bindings of the `wit/` package, one module per world. Private: the rest of
//! the crate and its users see the data types through [`crate::wit`] only.

pub(crate) mod scheduling {
    wasmtime::component::bindgen!({
        world: "scheduling-provider",
        path: "../../wit",
        additional_derives: [PartialEq],
    });
}

pub(crate) mod mesh {
    wasmtime::component::bindgen!({
        world: "mesh-profile",
        path: "../../wit",
        additional_derives: [PartialEq],
        with: {
            "antfly:operator/types": super::scheduling::antfly::operator::types,
        },
    });
}

pub(crate) mod backup {
    wasmtime::component::bindgen!({
        world: "backup-destination",
        path: "../../wit",
        additional_derives: [PartialEq],
        with: {
            "antfly:operator/types": super::scheduling::antfly::operator::types,
        },
    });
}

pub(crate) use backup::BackupDestinationPre;
pub(crate) use mesh::MeshProfilePre;
pub(crate) use scheduling::SchedulingProviderPre;

/// The WIT package version this host implements.
pub const WIT_VERSION: &str = "0.2.0";
/// The WIT package name.
pub const WIT_PACKAGE: &str = "antfly:operator";

/// Whether a plugin built against WIT `version` can run in this host: same major version,
/// and for 0.x versions the same minor version (semver's compatibility rule).
pub(crate) fn wit_compatible(version: &str) -> bool {
    match (parse_version(version), parse_version(WIT_VERSION)) {
        (Some((major, minor, _)), Some((host_major, host_minor, _))) => {
            major == host_major && (major != 0 || minor == host_minor)
        }
        _ => false,
    }
}

/// `MAJOR.MINOR.PATCH`, ignoring pre-release and build suffixes.
pub(crate) fn parse_version(version: &str) -> Option<(u64, u64, u64)> {
    let core = version.split(['-', '+']).next()?;
    let mut parts = core.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some((major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_minor_of_a_zero_major_is_compatible() {
        assert!(wit_compatible("0.2.0"));
        assert!(wit_compatible("0.2.7"));
    }

    #[test]
    fn other_majors_and_zero_minors_are_not() {
        assert!(!wit_compatible("1.0.0"));
        assert!(!wit_compatible("0.1.0"), "0.1 plugins predate secret files and claim mounts");
        assert!(!wit_compatible("0.3.0"));
        assert!(!wit_compatible("0.2"));
        assert!(!wit_compatible("latest"));
    }
}
