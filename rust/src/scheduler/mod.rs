//! kube-scheduler's filter and score plugins in Rust (k8s.io/kubernetes pkg/scheduler at the
//! pinned release), with its integer arithmetic and its failure reasons. The Python API is
//! kcore.scheduler.
//!
//! Guarantees:
//! - A Snapshot changes one node or pod at a time; nothing is rebuilt per pod.
//! - For the plugins here, the feasible nodes, each rejected node's plugin, code and reasons,
//!   and each plugin's normalized scores are those of kube-scheduler's own framework run on the
//!   same nodes, pods and profile (tests/unit/scheduler proves it against the Go code).
//! - Pods and nodes may be compact objects or plain mappings; a malformed field is a ValueError
//!   naming it.
mod affinity_terms;
mod default_selector;
mod framework;
mod label_selector;
mod node;
mod node_info;
mod node_tree;
mod plugins;
mod pod;
mod pod_affinity_index;
mod quantity;
mod read;
mod resources;
mod snapshot;
mod volume;

use pyo3::prelude::*;

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<snapshot::Snapshot>()?;
    m.add_class::<framework::Framework>()?;
    Ok(())
}
