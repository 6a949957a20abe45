//! Resources as the scheduler counts them (pkg/scheduler/framework types.go Resource,
//! component-helpers resource.PodRequests): resource names, a pod's effective requests with the
//! init / sidecar-container and overhead rules and pod-level requests, and the non-zero defaults
//! that scoring uses for containers without a cpu or memory request.
use super::pod::{Container, Pod};
use super::quantity::{milli_value, value, Nano};
use std::collections::BTreeMap;

/// A v1.ResourceList: the quantities by name, a key present even when its quantity is zero
/// (upstream tells "absent" from "zero" when it fills in defaults).
pub(crate) type ResourceList = BTreeMap<String, Nano>;

pub(crate) const CPU: &str = "cpu";
pub(crate) const MEMORY: &str = "memory";
pub(crate) const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub(crate) const PODS: &str = "pods";

/// schedutil.DefaultMilliCPURequest and DefaultMemoryRequest: what scoring assumes a container
/// without a request uses.
pub(crate) const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
pub(crate) const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_qualified_name(name: &str) -> bool {
    let part = |s: &str| {
        let b = s.as_bytes();
        !b.is_empty()
            && b.len() <= 63
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    };
    match name.split_once('/') {
        None => part(name),
        Some((prefix, rest)) => {
            let label = |l: &[u8]| {
                let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
                !l.is_empty() && edge(l[0]) && edge(l[l.len() - 1]) && l.iter().all(|&c| edge(c) || c == b'-')
            };
            !prefix.is_empty()
                && prefix.len() <= 253
                && prefix.as_bytes().split(|&c| c == b'.').all(label)
                && part(rest)
        }
    }
}

/// v1helper.IsExtendedResourceName: outside kubernetes.io, not "requests."-prefixed, and a
/// qualified name once "requests." is put before it.
pub(crate) fn is_extended(name: &str) -> bool {
    if is_native(name) || name.starts_with("requests.") {
        return false;
    }
    is_qualified_name(&format!("requests.{name}"))
}

/// schedutil.IsScalarResourceName: extended, hugepages-*, *kubernetes.io/* or attachable-volumes-*.
pub(crate) fn is_scalar(name: &str) -> bool {
    is_extended(name)
        || name.starts_with("hugepages-")
        || name.contains("kubernetes.io/")
        || name.starts_with("attachable-volumes-")
}

/// resourcehelper.IsSupportedPodLevelResource: cpu, memory and hugepages-*.
fn is_pod_level_resource(name: &str) -> bool {
    name == CPU || name == MEMORY || name.starts_with("hugepages-")
}

fn add(list: &mut ResourceList, other: &ResourceList) {
    for (name, q) in other {
        *list.entry(name.clone()).or_insert(0) += q;
    }
}

fn max_into(list: &mut ResourceList, other: &ResourceList) {
    for (name, q) in other {
        let e = list.entry(name.clone()).or_insert(*q);
        if *q > *e {
            *e = *q;
        }
    }
}

/// Which requests of a container count (the UseStatusResources variants of resourcehelper).
#[derive(Clone, Copy, PartialEq)]
enum Source {
    /// spec.containers[].resources.requests.
    Spec,
    /// The status's allocatedResources, else (unless a resize is infeasible) the spec.
    Allocated,
    /// The status's resources.requests, else its allocatedResources, else (unless a resize is
    /// infeasible) the spec.
    Actuated,
}

/// A container's requests from `source`, with `non_missing` filled in for the names it lacks.
fn container_requests(pod: &Pod, c: &Container, source: Source, non_missing: &ResourceList) -> ResourceList {
    let status = || pod.container_statuses.iter().find(|s| s.name == c.name);
    let fallback = || {
        if pod.resize_infeasible {
            ResourceList::new()
        } else {
            c.requests.clone()
        }
    };
    let mut r = match source {
        Source::Spec => c.requests.clone(),
        Source::Allocated => status().and_then(|s| s.allocated.clone()).unwrap_or_else(fallback),
        Source::Actuated => status()
            .and_then(|s| s.actual.clone().or_else(|| s.allocated.clone()))
            .unwrap_or_else(fallback),
    };
    for (name, q) in non_missing {
        r.entry(name.clone()).or_insert(*q);
    }
    r
}

/// aggregateContainerResourcesByFn: the app containers and the sidecars (restartable init
/// containers) run together; each regular init container runs alone beside the sidecars started
/// before it; the pod needs the larger of the two.
fn aggregate(pod: &Pod, source: Source, non_missing: &ResourceList) -> ResourceList {
    let mut result = ResourceList::new();
    for c in &pod.containers {
        add(&mut result, &container_requests(pod, c, source, non_missing));
    }
    let mut sidecars = ResourceList::new();
    let mut init_peak = ResourceList::new();
    for c in &pod.init_containers {
        let requests = container_requests(pod, c, source, non_missing);
        let running = if c.restartable {
            add(&mut result, &requests);
            add(&mut sidecars, &requests);
            sidecars.clone()
        } else {
            let mut combined = requests;
            add(&mut combined, &sidecars);
            combined
        };
        max_into(&mut init_peak, &running);
    }
    max_into(&mut result, &init_peak);
    result
}

fn max_of(lists: &[&ResourceList]) -> ResourceList {
    let mut result = ResourceList::new();
    for l in lists {
        max_into(&mut result, l);
    }
    result
}

/// IsPodLevelRequestsSet: spec.resources.requests names cpu, memory or a hugepage size.
pub(crate) fn pod_level_requests_set(pod: &Pod) -> bool {
    pod.pod_level_requests
        .as_ref()
        .is_some_and(|r| r.keys().any(|n| is_pod_level_resource(n)))
}

/// How resourcehelper.PodRequests is asked.
#[derive(Clone, Copy)]
pub(crate) struct Options {
    /// Pod-level requests replace the containers' (the PodLevelResources gate, on by default).
    pub(crate) pod_level: bool,
    /// What the kubelet reports counts too, during and after an in-place resize
    /// (UseStatusResources; InPlacePodVerticalScaling and its pod-level twin are on by default).
    pub(crate) status: bool,
}

/// resourcehelper.PodRequests: the containers' requests (with `status`, the largest of the
/// spec's, the allocated and the actual ones; only the latter two when a resize is infeasible),
/// then pod-level requests in place of cpu / memory / hugepages, then the overhead.
pub(crate) fn pod_requests(pod: &Pod, non_missing: &ResourceList, options: Options) -> ResourceList {
    let mut result = if !options.status {
        aggregate(pod, Source::Spec, non_missing)
    } else {
        let spec = aggregate(pod, Source::Spec, non_missing);
        let (allocated, actuated) = match (&pod.status_allocated, &pod.status_requests) {
            (Some(allocated), Some(actual)) => (allocated.clone(), actual.clone()),
            _ => (
                aggregate(pod, Source::Allocated, non_missing),
                aggregate(pod, Source::Actuated, non_missing),
            ),
        };
        if pod.resize_infeasible {
            max_of(&[&actuated, &allocated])
        } else {
            max_of(&[&spec, &actuated, &allocated])
        }
    };
    if options.pod_level && pod_level_requests_set(pod) {
        let spec = pod.pod_level_requests.clone().unwrap_or_default();
        let effective = if options.status && pod.status_resources {
            let empty = ResourceList::new();
            let spec = if pod.resize_infeasible { &empty } else { &spec };
            max_of(&[
                spec,
                pod.status_requests.as_ref().unwrap_or(&empty),
                pod.status_allocated.as_ref().unwrap_or(&empty),
            ])
        } else {
            spec
        };
        for (name, q) in effective {
            if is_pod_level_resource(&name) {
                result.insert(name, q);
            }
        }
    }
    if let Some(overhead) = &pod.overhead {
        add(&mut result, overhead);
    }
    result
}

/// The scheduler's Resource: cpu in millicores, the rest in units, scalar resources by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Resource {
    pub(crate) milli_cpu: i64,
    pub(crate) memory: i64,
    pub(crate) ephemeral_storage: i64,
    pub(crate) allowed_pods: i64,
    pub(crate) scalar: BTreeMap<String, i64>,
}

impl Resource {
    /// NewResource / Resource.Add: each quantity converted, then summed.
    pub(crate) fn from_list(list: &ResourceList) -> Resource {
        let mut r = Resource::default();
        for (name, q) in list {
            match name.as_str() {
                CPU => r.milli_cpu += milli_value(*q),
                MEMORY => r.memory += value(*q),
                PODS => r.allowed_pods += value(*q),
                EPHEMERAL_STORAGE => r.ephemeral_storage += value(*q),
                _ if is_scalar(name) => *r.scalar.entry(name.clone()).or_insert(0) += value(*q),
                _ => {}
            }
        }
        r
    }

    pub(crate) fn add_signed(&mut self, other: &Resource, sign: i64) {
        self.milli_cpu += sign * other.milli_cpu;
        self.memory += sign * other.memory;
        self.ephemeral_storage += sign * other.ephemeral_storage;
        for (name, q) in &other.scalar {
            *self.scalar.entry(name.clone()).or_insert(0) += sign * q;
        }
    }

    pub(crate) fn scalar(&self, name: &str) -> i64 {
        self.scalar.get(name).copied().unwrap_or(0)
    }
}

/// What an assigned pod adds to its node (PodInfo.CalculateResource): its requests, and the
/// cpu and memory that scoring counts, with the defaults for containers that request none.
#[derive(Clone, Debug, Default)]
pub(crate) struct PodResource {
    pub(crate) requested: Resource,
    pub(crate) non_zero_milli_cpu: i64,
    pub(crate) non_zero_memory: i64,
}

/// The defaults for requests that neither the containers nor the pod level set
/// (getNonMissingContainerRequests).
fn non_missing_defaults(requests: &ResourceList, pod_level: bool) -> ResourceList {
    let mut d = ResourceList::new();
    if !pod_level || !requests.contains_key(CPU) {
        d.insert(CPU.to_owned(), DEFAULT_MILLI_CPU_REQUEST as Nano * 1_000_000);
    }
    if !pod_level || !requests.contains_key(MEMORY) {
        d.insert(MEMORY.to_owned(), DEFAULT_MEMORY_REQUEST as Nano * 1_000_000_000);
    }
    d
}

/// The two defaults scoring fills in for every container (resource_allocation.go).
pub(crate) fn scoring_defaults() -> ResourceList {
    non_missing_defaults(&ResourceList::new(), false)
}

impl PodResource {
    pub(crate) fn of(pod: &Pod) -> PodResource {
        const OPTIONS: Options = Options {
            pod_level: true,
            status: true,
        };
        let requests = pod_requests(pod, &ResourceList::new(), OPTIONS);
        let defaults = non_missing_defaults(&requests, pod_level_requests_set(pod));
        let non_zero = if defaults.is_empty() {
            requests.clone()
        } else {
            pod_requests(pod, &defaults, OPTIONS)
        };
        PodResource {
            requested: Resource::from_list(&requests),
            non_zero_milli_cpu: non_zero.get(CPU).map_or(0, |q| milli_value(*q)),
            non_zero_memory: non_zero.get(MEMORY).map_or(0, |q| value(*q)),
        }
    }
}
