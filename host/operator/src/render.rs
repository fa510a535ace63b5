//! `render`: parse, then the reconcile pipeline ([`crate::pipeline`]) stopped before apply,
//! and print every object as multi-document YAML.
//!
//! Every problem of the input is reported in one list: parse problems (with lines), the
//! validation errors of what could be read, the plugins' verdicts on their settings and the
//! limits of the composed objects.

use std::fmt;

use crate::api::AntflyCluster;
use crate::backup::{self, destination::DestinationRequest};
use crate::build::ClusterResources;
use crate::compose::{ExtensionError, ExtensionResolver};
use crate::parse::{self, Locations, Object, ParseOptions, Problem};
use crate::pipeline::{DesiredState, PipelineError, desired_state};
use crate::validate::{FieldError, ValidatedCluster};

/// The development cluster `render` uses when no file is given.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../../examples/dev-cluster.yaml");

/// Every problem of an input, in one list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputErrors {
    pub problems: Vec<Problem>,
}

impl InputErrors {
    /// Problems in the order they were written; those without a line keep their place at the end.
    fn sorted(mut problems: Vec<Problem>) -> Self {
        problems.sort_by_key(|p| p.line.unwrap_or(u64::MAX));
        Self { problems }
    }
}

impl fmt::Display for InputErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.problems.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for InputErrors {}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("invalid input:\n{0}")]
    Invalid(#[source] InputErrors),
    #[error("expected kind AntflyCluster in apiVersion antfly.io/v1, got kind {kind:?} in {api_version:?}")]
    WrongKind { api_version: String, kind: String },
    /// A plugin failed for a reason that is not in the input (sandbox limit, trap, bad output).
    #[error("{0}")]
    Extension(#[source] ExtensionError),
    #[error("failed to serialise objects: {0}")]
    Serialise(String),
}

impl RenderError {
    fn invalid(errors: Vec<FieldError>, locations: Option<&Locations>) -> Self {
        RenderError::Invalid(InputErrors {
            problems: errors.iter().map(|e| Problem::located(&e.path, e.message.clone(), locations)).collect(),
        })
    }
}

/// How `render` reads its input.
#[derive(Clone, Copy, Debug, Default)]
pub struct RenderOptions {
    pub parse: ParseOptions,
}

/// What `render` prints, and the warnings it writes to stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub yaml: String,
    pub warnings: Vec<Problem>,
}

/// Parse the one AntflyCluster of `yaml`, strictly.
pub fn parse_cluster(yaml: &str) -> Result<AntflyCluster, RenderError> {
    parse_one_cluster(yaml, &crate::compose::NoPlugins, RenderOptions::default()).map(|input| input.cluster)
}

/// One cluster and the backups and restores of it from the same input.
struct RenderInput {
    cluster: AntflyCluster,
    locations: Locations,
    warnings: Vec<Problem>,
    /// Each destination with the line of its document.
    destinations: Vec<(DestinationRequest, u64)>,
}

fn parse_one_cluster(
    yaml: &str,
    resolver: &dyn ExtensionResolver,
    options: RenderOptions,
) -> Result<RenderInput, RenderError> {
    let parsed = match parse::parse(yaml, options.parse) {
        Ok(parsed) => parsed,
        Err(errors) => {
            let mut problems = errors.problems;
            // Validate what could be read, so that one run lists every problem.
            if let Some((cluster, locations)) = errors.partial.iter().find_map(|d| match &d.object {
                Object::Cluster(c) => Some((c, &d.locations)),
                _ => None,
            }) && let Err(RenderError::Invalid(more)) = desired(cluster, &[], resolver)
            {
                let more = more.problems.into_iter().map(|p| relocate(p, locations));
                let related = |p: &Problem| problems.iter().any(|q| related_paths(&p.path, &q.path));
                let extra: Vec<Problem> = more.filter(|p| !related(p)).collect();
                problems.extend(extra);
            }
            return Err(RenderError::Invalid(InputErrors::sorted(problems)));
        }
    };
    let mut warnings = parsed.warnings;
    let mut cluster = None;
    let mut other_kind = None;
    let mut problems = Vec::new();
    let mut operations = Vec::new();
    for document in parsed.documents {
        let line = Some(document.line);
        match document.object {
            Object::Cluster(c) if cluster.is_none() => cluster = Some((*c, document.locations)),
            Object::Cluster(_) => problems.push(Problem {
                path: String::new(),
                line,
                column: None,
                message: "render takes one AntflyCluster per input; this is a second one".into(),
            }),
            other => {
                other_kind.get_or_insert(other.kind());
                for error in backup::validate(&other) {
                    problems.push(Problem::located(&error.path, error.message, Some(&document.locations)));
                }
                operations.push((other, document.line));
            }
        }
    }
    if !problems.is_empty() {
        return Err(RenderError::Invalid(InputErrors::sorted(problems)));
    }
    let Some((cluster, locations)) = cluster else {
        return Err(match other_kind {
            None => RenderError::Invalid(InputErrors {
                problems: vec![Problem {
                    path: String::new(),
                    line: None,
                    column: None,
                    message: "the input holds no AntflyCluster document".into(),
                }],
            }),
            Some(kind) => RenderError::WrongKind { api_version: "antfly.io/v1".into(), kind: kind.to_string() },
        });
    };
    let mut destinations = Vec::new();
    for (object, line) in operations {
        let located = |message: String| Problem { path: String::new(), line: Some(line), column: None, message };
        match backup::destination_of(&object, &cluster) {
            Some(Ok(request)) => destinations.push((request, line)),
            Some(Err(error)) => problems.push(located(error.to_string())),
            None => warnings.push(located(format!(
                "this {} is not of the AntflyCluster {:?} (another name or namespace): it was checked, not rendered",
                object.kind(),
                cluster.metadata.name.as_deref().unwrap_or_default()
            ))),
        }
    }
    if !problems.is_empty() {
        return Err(RenderError::Invalid(InputErrors::sorted(problems)));
    }
    Ok(RenderInput { cluster, locations, warnings, destinations })
}

/// A problem found on a partial object, placed by the document's locations.
fn relocate(problem: Problem, locations: &Locations) -> Problem {
    if problem.line.is_some() {
        return problem;
    }
    Problem::located(&problem.path, problem.message, Some(locations))
}

/// Whether one path is the other or lies under it (`spec.a` and `spec.a.b`, `spec.a[0]`).
fn related_paths(a: &str, b: &str) -> bool {
    let under = |child: &str, parent: &str| {
        child == parent
            || (child.starts_with(parent) && matches!(child.as_bytes().get(parent.len()), Some(b'.' | b'[')))
    };
    under(a, b) || under(b, a)
}

/// The shared pipeline, with every input problem in one [`RenderError::Invalid`] list: core
/// validation, the plugins' verdicts on their settings, and the limits of what was composed.
pub fn desired(
    cluster: &AntflyCluster,
    destinations: &[DestinationRequest],
    resolver: &dyn ExtensionResolver,
) -> Result<DesiredState, RenderError> {
    desired_state(cluster, destinations, resolver).map_err(|error| match error {
        PipelineError::Invalid(core) => {
            let mut errors = core.errors;
            // Ask the plugins about their own settings as well, so that one run lists everything.
            if let Err(error) = resolver.resolve(&ValidatedCluster::for_settings_check(cluster))
                && let Some(field_error) = error.as_field_error()
                && !errors.contains(&field_error)
            {
                errors.push(field_error);
            }
            RenderError::invalid(errors, None)
        }
        PipelineError::Plugins(error) => match error.as_field_error() {
            Some(field_error) => RenderError::invalid(vec![field_error], None),
            None => RenderError::Extension(error),
        },
    })
}

/// Serialise objects as multi-document YAML.
pub fn to_yaml(resources: &ClusterResources) -> Result<String, RenderError> {
    let objects = resources.to_json_objects().map_err(|e| RenderError::Serialise(e.to_string()))?;
    let mut out = String::new();
    for object in objects {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&object).map_err(|e| RenderError::Serialise(e.to_string()))?);
    }
    Ok(out)
}

/// Parse, validate, resolve, build and serialise the AntflyCluster of `yaml`, with options.
pub fn render_with(
    yaml: &str,
    resolver: &dyn ExtensionResolver,
    options: RenderOptions,
) -> Result<Rendered, RenderError> {
    let RenderInput { cluster, locations, warnings, destinations } = parse_one_cluster(yaml, resolver, options)?;
    let requests: Vec<DestinationRequest> = destinations.iter().map(|(request, _)| request.clone()).collect();
    let DesiredState { resources, destination_problems, .. } =
        desired(&cluster, &requests, resolver).map_err(|error| match error {
            RenderError::Invalid(errors) => RenderError::Invalid(InputErrors::sorted(
                errors.problems.into_iter().map(|p| relocate(p, &locations)).collect(),
            )),
            other => other,
        })?;
    // A destination the operator would leave off the pods is an error here: the preview
    // would otherwise show pods its backups cannot write from.
    if !destination_problems.is_empty() {
        let line_of = |owner: &str| destinations.iter().find(|(r, _)| r.owner == owner).map(|(_, line)| *line);
        let problems = destination_problems
            .into_iter()
            .map(|p| Problem {
                path: String::new(),
                line: line_of(&p.owner),
                column: None,
                message: format!("{}: {}", p.owner, p.message),
            })
            .collect();
        return Err(RenderError::Invalid(InputErrors::sorted(problems)));
    }
    Ok(Rendered { yaml: to_yaml(&resources)?, warnings })
}

/// Parse (strictly), validate, resolve, build and serialise one AntflyCluster document.
pub fn render(yaml: &str, resolver: &dyn ExtensionResolver) -> Result<String, RenderError> {
    render_with(yaml, resolver, RenderOptions::default()).map(|r| r.yaml)
}
