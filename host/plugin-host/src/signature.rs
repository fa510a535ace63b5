//! The load-time check of a plugin's exported functions: each function of the world's
//! interface must exist with exactly the parameter and result types the host calls it
//! with. Without it, wasmtime checks the types only when a call looks the function up, so a
//! mismatched plugin would load fine and then fail every call with an unclear error.

use wasmtime::component::__internal::InstanceType;
use wasmtime::component::types::{ComponentFunc, ComponentItem, Type};
use wasmtime::component::{Component, InstancePre};

use crate::sandbox::CallState;
use crate::source::World;
use crate::wit::{
    BackupPlan, BackupRequest, ClusterView, Kv, MeshClusterView, PluginError, PodView, Role, SchedulingContribution,
};

/// One function of a world's interface: its WIT signature, for messages, and the check of
/// a plugin's function against the Rust types the host calls it with.
struct Expected {
    name: &'static str,
    wit: &'static str,
    /// wasmtime's own type check, the one its generated bindings run when they look a
    /// function up (hidden in its docs, but what `bindgen!` output calls).
    typecheck: fn(&ComponentFunc, &InstanceType<'_>) -> wasmtime::Result<()>,
}

fn expected(world: World) -> &'static [Expected] {
    const SCHEDULING: &[Expected] = &[
        Expected {
            name: "validate-settings",
            wit: "func(view: cluster-view) -> result<_, list<plugin-error>>",
            typecheck: |f, t| f.typecheck::<(&ClusterView,), (Result<(), Vec<PluginError>>,)>(t),
        },
        Expected {
            name: "contribute",
            wit: "func(view: cluster-view, role: role) -> result<scheduling-contribution, plugin-error>",
            typecheck: |f, t| f.typecheck::<(&ClusterView, Role), (Result<SchedulingContribution, PluginError>,)>(t),
        },
    ];
    const MESH: &[Expected] = &[
        Expected {
            name: "pod-annotations",
            wit: "func(view: mesh-cluster-view, role: role) -> result<list<kv>, plugin-error>",
            typecheck: |f, t| f.typecheck::<(&MeshClusterView, Role), (Result<Vec<Kv>, PluginError>,)>(t),
        },
        Expected {
            name: "has-sidecar",
            wit: "func(pod: pod-view) -> bool",
            typecheck: |f, t| f.typecheck::<(&PodView,), (bool,)>(t),
        },
    ];
    const BACKUP: &[Expected] = &[
        Expected {
            name: "schemes",
            wit: "func() -> list<string>",
            typecheck: |f, t| f.typecheck::<(), (Vec<String>,)>(t),
        },
        Expected {
            name: "validate-location",
            wit: "func(location: string, options: string) -> result<_, list<plugin-error>>",
            typecheck: |f, t| f.typecheck::<(&str, &str), (Result<(), Vec<PluginError>>,)>(t),
        },
        Expected {
            name: "plan-backup",
            wit: "func(request: backup-request) -> result<backup-plan, plugin-error>",
            typecheck: |f, t| f.typecheck::<(&BackupRequest,), (Result<BackupPlan, PluginError>,)>(t),
        },
        Expected {
            name: "plan-restore",
            wit: "func(request: backup-request) -> result<backup-plan, plugin-error>",
            typecheck: |f, t| f.typecheck::<(&BackupRequest,), (Result<BackupPlan, PluginError>,)>(t),
        },
    ];
    match world {
        World::SchedulingProvider => SCHEDULING,
        World::MeshProfile => MESH,
        World::BackupDestination => BACKUP,
    }
}

/// A mismatched export: its full name and what is wrong with it.
#[derive(Debug)]
pub(crate) struct Mismatch {
    pub(crate) export: String,
    pub(crate) problem: String,
}

/// Checks every function of `world`'s interface, exported by the component as `interface`
/// (for example `antfly:operator/scheduling@0.2.0`), against the host's signature.
pub(crate) fn check(pre: &InstancePre<CallState>, world: World, interface: &str) -> Result<(), Mismatch> {
    let component: &Component = pre.component();
    let mismatch = |name: &str, problem: String| Mismatch { export: format!("{interface}#{name}"), problem };
    let instance = component
        .get_export_index(None, interface)
        .ok_or_else(|| Mismatch { export: interface.to_string(), problem: "it is not exported".to_string() })?;
    let instance_type = pre.instance_type();
    for function in expected(world) {
        let Some((item, _)) = component.get_export(Some(&instance), function.name) else {
            return Err(mismatch(function.name, format!("it is missing; expected {}", function.wit)));
        };
        let ComponentItem::ComponentFunc(found) = item else {
            return Err(mismatch(function.name, format!("it is not a function; expected {}", function.wit)));
        };
        if let Err(error) = (function.typecheck)(&found, &instance_type) {
            return Err(mismatch(
                function.name,
                format!("expected {}, found {} ({error:#})", function.wit, describe_func(&found)),
            ));
        }
    }
    Ok(())
}

/// A plugin's function in WIT-like syntax. Records and variants show their field and case
/// names only: the component model does not keep type names.
fn describe_func(func: &ComponentFunc) -> String {
    let params: Vec<String> = func.params().map(|(name, ty)| format!("{name}: {}", describe(&ty, 2))).collect();
    let results: Vec<String> = func.results().map(|ty| describe(&ty, 2)).collect();
    let params = params.join(", ");
    match results.as_slice() {
        [] => format!("func({params})"),
        [one] => format!("func({params}) -> {one}"),
        many => format!("func({params}) -> ({})", many.join(", ")),
    }
}

fn describe(ty: &Type, depth: usize) -> String {
    let nested = |ty: &Type| if depth == 0 { "…".to_string() } else { describe(ty, depth - 1) };
    match ty {
        Type::Bool => "bool".into(),
        Type::S8 => "s8".into(),
        Type::U8 => "u8".into(),
        Type::S16 => "s16".into(),
        Type::U16 => "u16".into(),
        Type::S32 => "s32".into(),
        Type::U32 => "u32".into(),
        Type::S64 => "s64".into(),
        Type::U64 => "u64".into(),
        Type::Float32 => "f32".into(),
        Type::Float64 => "f64".into(),
        Type::Char => "char".into(),
        Type::String => "string".into(),
        Type::List(list) => format!("list<{}>", nested(&list.ty())),
        Type::Option(option) => format!("option<{}>", nested(&option.ty())),
        Type::Result(result) => {
            let side = |ty: Option<Type>| ty.map_or_else(|| "_".to_string(), |ty| nested(&ty));
            format!("result<{}, {}>", side(result.ok()), side(result.err()))
        }
        Type::Tuple(tuple) => format!("tuple<{}>", tuple.types().map(|ty| nested(&ty)).collect::<Vec<_>>().join(", ")),
        Type::Record(record) => {
            format!("record {{ {} }}", record.fields().map(|f| f.name).collect::<Vec<_>>().join(", "))
        }
        Type::Variant(variant) => {
            format!("variant {{ {} }}", variant.cases().map(|c| c.name).collect::<Vec<_>>().join(", "))
        }
        Type::Enum(names) => format!("enum {{ {} }}", names.names().collect::<Vec<_>>().join(", ")),
        Type::Flags(flags) => format!("flags {{ {} }}", flags.names().collect::<Vec<_>>().join(", ")),
        other => format!("{other:?}").chars().take(40).collect(),
    }
}
