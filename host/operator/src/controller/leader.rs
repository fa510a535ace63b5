//! Leader election with a coordination.k8s.io Lease: only the holder reconciles and writes.
//!
//! The holder renews every `renew_every`; others take over once `lease_duration` has passed
//! without a renewal. Updates use the Lease's resourceVersion, so two candidates never both win.
//! Writes are also gated by [`LeaderState::is_leader`], which expires on its own if renewals stop.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, PostParams};

#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("failed to read lease {name}: {source}")]
    Read { name: String, source: kube::Error },
    #[error("failed to write lease {name}: {source}")]
    Write { name: String, source: kube::Error },
}

/// Whether this process holds the lease, and until when.
#[derive(Debug, Default)]
pub struct LeaderState {
    held_until: Mutex<Option<Instant>>,
}

impl LeaderState {
    pub fn is_leader(&self) -> bool {
        self.held_until.lock().ok().and_then(|guard| *guard).is_some_and(|until| Instant::now() < until)
    }

    fn set(&self, until: Option<Instant>) {
        if let Ok(mut guard) = self.held_until.lock() {
            *guard = until;
        }
    }

    /// A state that always leads, for single-process use such as tests of one instance.
    pub fn always() -> Self {
        Self { held_until: Mutex::new(Some(Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600))) }
    }
}

pub struct LeaderElector {
    api: Api<Lease>,
    name: String,
    identity: String,
    pub lease_duration: Duration,
    pub renew_every: Duration,
}

impl LeaderElector {
    pub fn new(client: Client, namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            identity: identity.to_string(),
            lease_duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        }
    }

    /// Acquire or renew the lease once. Returns whether this process now leads.
    pub async fn try_acquire_or_renew(&self, state: &LeaderState) -> Result<bool, LeaderError> {
        let started = Instant::now();
        let now = Timestamp::now();
        let duration_secs = i32::try_from(self.lease_duration.as_secs()).unwrap_or(15);
        let read_err = |source| LeaderError::Read { name: self.name.clone(), source };
        let write_err = |source| LeaderError::Write { name: self.name.clone(), source };
        let existing = self.api.get_opt(&self.name).await.map_err(read_err)?;
        let result = match existing {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta { name: Some(self.name.clone()), ..ObjectMeta::default() },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(self.identity.clone()),
                        lease_duration_seconds: Some(duration_secs),
                        acquire_time: Some(MicroTime(now)),
                        renew_time: Some(MicroTime(now)),
                        lease_transitions: Some(0),
                        ..LeaseSpec::default()
                    }),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            Some(mut lease) => {
                let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
                let holder = spec.holder_identity.clone().unwrap_or_default();
                let expired = spec.renew_time.as_ref().is_none_or(|renewed| {
                    let held_for = i64::from(spec.lease_duration_seconds.unwrap_or(duration_secs));
                    renewed.0 + SignedDuration::from_secs(held_for) < now
                });
                if holder != self.identity && !holder.is_empty() && !expired {
                    state.set(None);
                    return Ok(false);
                }
                if holder != self.identity {
                    spec.acquire_time = Some(MicroTime(now));
                    spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                }
                spec.holder_identity = Some(self.identity.clone());
                spec.lease_duration_seconds = Some(duration_secs);
                spec.renew_time = Some(MicroTime(now));
                self.api.replace(&self.name, &PostParams::default(), &lease).await
            }
        };
        match result {
            Ok(_) => {
                // Count the lease from before the request, so a slow write never extends it.
                state.set(Some(started + self.lease_duration - self.renew_every));
                Ok(true)
            }
            Err(kube::Error::Api(status)) if status.code == 409 => {
                state.set(None);
                Ok(false)
            }
            Err(source) => {
                state.set(None);
                Err(write_err(source))
            }
        }
    }
}
