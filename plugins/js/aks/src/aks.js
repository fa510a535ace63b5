//! `aks` scheduling provider, in JavaScript: Azure AKS Spot node pools for data nodes,
//! agent-pool pinning, preferred VM sizes and Azure Workload Identity.
//!
//! Built into a WebAssembly component of the `scheduling-provider` world of
//! `antfly:operator@0.2.0` (see ../../../wit) by componentize-js; the operator runs it in the
//! same sandbox as its Rust plugins. Settings are the JSON of
//! `spec.schedulingProvider.settings`:
//!
//!   {
//!     "spotDataNodes": true,                 // data nodes on AKS Spot pools
//!     "nodePool": "dbpool",                  // agent pool of the regular (non-Spot) pods
//!     "spotNodePool": "dbspot",              // agent pool of Spot data nodes (optional)
//!     "vmSizes": ["Standard_D8ds_v5"],       // preferred VM sizes of data nodes
//!     "spotGracePeriodSeconds": 20,          // at most 25: Azure gives 30 s of notice
//!     "workloadIdentityClientId": "<uuid>",  // ServiceAccount client-id annotation
//!     "workloadIdentityTenantId": "<uuid>"   // ServiceAccount tenant-id annotation
//!   }
//!
//! Workload Identity also needs the pod label `azure.workload.identity/use: "true"`, which a
//! contribution of WIT 0.1 cannot carry: this plugin sets the ServiceAccount side only.
//!
//! Metadata (Raft) pods never go to Spot: only the data role receives the Spot selector,
//! toleration and grace period. An AKS node pool is either Spot or regular, so with
//! `spotDataNodes` the `nodePool` pins metadata nodes only.
//!
//! WIT mapping (componentize-js): records are objects with camelCase fields, enums are their
//! WIT names as strings, `s64` is a BigInt, `option<T>` is `undefined` or the value. A
//! function returning `result<T, E>` returns its `ok` value; throwing a non-`Error` value
//! makes that value the `err` payload.

// Node label AKS sets on every node of a pool: `spot` or `regular`.
const PRIORITY_LABEL = 'kubernetes.azure.com/scalesetpriority';
// AKS taints every Spot node with `kubernetes.azure.com/scalesetpriority=spot:NoSchedule`.
const SPOT_TAINT = { key: PRIORITY_LABEL, value: 'spot', effect: 'NoSchedule' };
// Node label with the name of the node's agent pool.
const AGENT_POOL_LABEL = 'kubernetes.azure.com/agentpool';
const INSTANCE_TYPE_LABEL = 'node.kubernetes.io/instance-type';
const CLIENT_ID_ANNOTATION = 'azure.workload.identity/client-id';
const TENANT_ID_ANNOTATION = 'azure.workload.identity/tenant-id';
// Azure evicts a Spot VM 30 s after its Preempt event. The node learns of the event by
// polling Scheduled Events, so 20 s of grace leaves time to notice it and drain.
const DEFAULT_SPOT_GRACE_PERIOD_SECONDS = 20;
// Past 25 s the pod would still be stopping when the VM goes away.
const MAX_SPOT_GRACE_PERIOD_SECONDS = 25;
const MAX_VM_SIZES = 20;

// The settings this plugin knows, with the JSON type each must have.
const SETTINGS_TYPES = {
  spotDataNodes: 'boolean',
  nodePool: 'string',
  spotNodePool: 'string',
  vmSizes: 'array',
  spotGracePeriodSeconds: 'number',
  workloadIdentityClientId: 'string',
  workloadIdentityTenantId: 'string',
};

// Spec path of each role's scheduling settings, for conflict messages.
const ROLE_FIELDS = { metadata: 'spec.metadataNodes', data: 'spec.dataNodes' };

// A typed `plugin-error`.
function problem(code, field, message) {
  return { code, field, message };
}

function invalid(field, message) {
  return problem('invalid-settings', field, message);
}

// The JSON type of a value, as users read it.
function jsonType(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

// Linux AKS pool names: 1 to 12 lower-case letters and digits, starting with a letter.
function isPoolName(value) {
  return /^[a-z][a-z0-9]{0,11}$/.test(value);
}

// Azure VM sizes as AKS labels nodes with them, e.g. `Standard_D8ds_v5`. Also a valid label
// value.
function isVmSize(value) {
  return value.length <= 63 && /^(Standard|Basic)_[A-Za-z0-9]+(?:[_-][A-Za-z0-9]+)*$/.test(value);
}

// A UUID in its canonical 8-4-4-4-12 hexadecimal form, as Azure prints client and tenant ids.
function isUuid(value) {
  return /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(value);
}

// Parses the settings text into `settings`, holding the known keys whose JSON type is right,
// `problems` for unknown keys and wrong types, and `mistyped`, the keys of the wrong type.
// `settings` is null when the text is no JSON object.
function parseSettings(text) {
  const mistyped = new Set();
  let raw;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { settings: null, mistyped, problems: [invalid('', `the settings are not valid JSON: ${error.message}`)] };
  }
  if (jsonType(raw) !== 'object') {
    return { settings: null, mistyped, problems: [invalid('', `the settings must be a JSON object, not ${jsonType(raw)}`)] };
  }
  const problems = [];
  const settings = {};
  for (const [key, value] of Object.entries(raw)) {
    // Own keys only: `constructor` or `__proto__` are unknown settings, not Object's.
    const expected = Object.hasOwn(SETTINGS_TYPES, key) ? SETTINGS_TYPES[key] : undefined;
    if (expected === undefined) {
      const known = Object.keys(SETTINGS_TYPES).join(', ');
      problems.push(invalid(key, `unknown setting ${JSON.stringify(key)}; known settings: ${known}`));
    } else if (value === null) {
      // `null` reads as "not set", as it does for Kubernetes fields.
    } else if (jsonType(value) !== expected) {
      problems.push(invalid(key, `${key} must be a ${expected}, not ${jsonType(value)}`));
      mistyped.add(key);
    } else {
      settings[key] = value;
    }
  }
  return { settings, mistyped, problems };
}

// Every problem of the well-typed settings, alone and with each other. A rule that involves
// a mistyped key is skipped: its type problem says enough.
function settingsProblems(settings, mistyped) {
  const problems = [];
  const spot = settings.spotDataNodes === true;
  const spotKnown = !mistyped.has('spotDataNodes');
  for (const field of ['nodePool', 'spotNodePool']) {
    const pool = settings[field];
    if (pool !== undefined && !isPoolName(pool)) {
      problems.push(
        invalid(field, `${field} ${JSON.stringify(pool)} is not an AKS node pool name (1 to 12 lower-case letters and digits, starting with a letter)`),
      );
    }
  }
  if (settings.spotNodePool !== undefined && !spot && spotKnown) {
    problems.push(problem('conflict', 'spotNodePool', 'spotNodePool needs spotDataNodes: true'));
  }
  if (spot && settings.nodePool !== undefined && settings.nodePool === settings.spotNodePool) {
    problems.push(
      problem('conflict', 'spotNodePool', `spotNodePool ${JSON.stringify(settings.spotNodePool)} is also nodePool, where metadata nodes run; an AKS node pool is either Spot or regular, and metadata nodes never run on Spot`),
    );
  }
  const grace = settings.spotGracePeriodSeconds;
  if (grace !== undefined) {
    if (!Number.isInteger(grace) || grace < 0 || grace > MAX_SPOT_GRACE_PERIOD_SECONDS) {
      problems.push(
        invalid('spotGracePeriodSeconds', `spotGracePeriodSeconds ${grace} must be a whole number from 0 to ${MAX_SPOT_GRACE_PERIOD_SECONDS}: Azure evicts a Spot VM 30 s after its notice`),
      );
    } else if (!spot && spotKnown) {
      problems.push(problem('conflict', 'spotGracePeriodSeconds', 'spotGracePeriodSeconds needs spotDataNodes: true'));
    }
  }
  if (settings.vmSizes !== undefined) {
    if (settings.vmSizes.length > MAX_VM_SIZES) {
      problems.push(invalid('vmSizes', `vmSizes lists ${settings.vmSizes.length} sizes, more than ${MAX_VM_SIZES}`));
    }
    settings.vmSizes.forEach((size, i) => {
      if (typeof size !== 'string' || !isVmSize(size)) {
        problems.push(invalid(`vmSizes[${i}]`, `${JSON.stringify(size)} is not an Azure VM size such as Standard_D8ds_v5`));
      }
    });
  }
  for (const [field, what] of [
    ['workloadIdentityClientId', 'the client id of a managed identity or app registration'],
    ['workloadIdentityTenantId', 'a Microsoft Entra tenant id'],
  ]) {
    const value = settings[field];
    if (value !== undefined && !isUuid(value)) {
      problems.push(invalid(field, `${field} ${JSON.stringify(value)} is not a UUID (${what}, such as 00000000-0000-0000-0000-000000000000)`));
    }
  }
  const clientIdKnown = !mistyped.has('workloadIdentityClientId');
  if (settings.workloadIdentityTenantId !== undefined && settings.workloadIdentityClientId === undefined && clientIdKnown) {
    problems.push(problem('conflict', 'workloadIdentityTenantId', 'workloadIdentityTenantId needs workloadIdentityClientId'));
  }
  return problems;
}

// The node-selector entries the plugin adds for `role`, as [key, value] pairs.
function nodeSelectorFor(settings, role) {
  const entries = [];
  if (role === 'data' && settings.spotDataNodes === true) {
    entries.push([PRIORITY_LABEL, 'spot']);
    if (settings.spotNodePool !== undefined) entries.push([AGENT_POOL_LABEL, settings.spotNodePool]);
  } else if (settings.nodePool !== undefined) {
    entries.push([AGENT_POOL_LABEL, settings.nodePool]);
  }
  return entries;
}

// The user's own scheduling settings that contradict the plugin's: a metadata role the user
// sent to Spot, or a node-selector entry the plugin would silently replace.
function userConflicts(settings, view) {
  const problems = [];
  for (const roleView of view.roles) {
    const field = `${ROLE_FIELDS[roleView.role]}.nodeSelector`;
    const userSelector = new Map(roleView.scheduling.nodeSelector.map((entry) => [entry.key, entry.value]));
    if (roleView.role === 'metadata' && userSelector.get(PRIORITY_LABEL) === 'spot') {
      problems.push(problem('conflict', field, `${field} selects ${PRIORITY_LABEL}=spot, but metadata (Raft) nodes never run on Spot`));
    }
    for (const [key, value] of nodeSelectorFor(settings, roleView.role)) {
      const theirs = userSelector.get(key);
      if (theirs !== undefined && theirs !== value) {
        problems.push(problem('conflict', field, `${field} sets ${key}=${theirs}, but the aks settings need ${key}=${value}`));
      }
    }
  }
  return problems;
}

// What the plugin adds to the pods of `role`, for valid settings.
function contribution(settings, role) {
  const spot = role === 'data' && settings.spotDataNodes === true;
  const serviceAccountAnnotations = [];
  if (settings.workloadIdentityClientId !== undefined) {
    // One ServiceAccount serves both roles; both report the same annotations.
    serviceAccountAnnotations.push({ key: CLIENT_ID_ANNOTATION, value: settings.workloadIdentityClientId });
    if (settings.workloadIdentityTenantId !== undefined) {
      serviceAccountAnnotations.push({ key: TENANT_ID_ANNOTATION, value: settings.workloadIdentityTenantId });
    }
  }
  const preferredNodeAffinity = [];
  if (role === 'data' && settings.vmSizes !== undefined && settings.vmSizes.length > 0) {
    preferredNodeAffinity.push({
      weight: 100,
      matchExpressions: [{ key: INSTANCE_TYPE_LABEL, operator: 'In', values: [...settings.vmSizes] }],
    });
  }
  return {
    role,
    nodeSelector: nodeSelectorFor(settings, role).map(([key, value]) => ({ key, value })),
    clearNodeSelector: false,
    tolerations: spot ? [{ key: SPOT_TAINT.key, operator: 'Equal', value: SPOT_TAINT.value, effect: SPOT_TAINT.effect, tolerationSeconds: undefined }] : [],
    preferredNodeAffinity,
    topologySpread: [],
    suppressDefaultZoneSpread: false,
    podAnnotations: [],
    terminationGracePeriodSeconds: spot ? BigInt(settings.spotGracePeriodSeconds ?? DEFAULT_SPOT_GRACE_PERIOD_SECONDS) : undefined,
    serviceAccountAnnotations,
  };
}

// Settings and every problem with them. The user's own settings are compared with the
// plugin's only once the plugin's settings are valid.
function check(view) {
  const { settings, mistyped, problems } = parseSettings(view.settings);
  if (settings === null) return { settings, problems };
  problems.push(...settingsProblems(settings, mistyped));
  if (problems.length === 0) problems.push(...userConflicts(settings, view));
  return { settings, problems };
}

// The `antfly:operator/scheduling@0.2.0` interface.
export const scheduling = {
  // Every problem of the settings; throwing the list makes it the `err` payload.
  validateSettings(view) {
    const { problems } = check(view);
    if (problems.length > 0) throw problems;
  },

  // The contribution for `role`; the first problem as `err` if the settings are invalid
  // (the operator calls this only after `validate-settings` succeeded).
  contribute(view, role) {
    const { settings, problems } = check(view);
    if (problems.length > 0) throw problems[0];
    return contribution(settings, role);
  },
};
