//! The scheduler's view of the cluster (pkg/scheduler/backend/cache): nodes and the pods
//! assigned to them, kept up to date one change at a time — a node added, updated or removed,
//! a pod added (or assumed) and removed (or forgotten) — never rebuilt per pod.
use super::default_selector::SelectorSources;
use super::node::Node;
use super::node_info::NodeInfo;
use super::node_tree::{zone_key, NodeTree};
use super::pod::Pod;
use crate::codec::compact::CompactObject;
use crate::informer::convert::to_compact;
use crate::informer::view::View;
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Default)]
pub(crate) struct State {
    /// By node name (sorted, so that every walk over the nodes is the same).
    pub(crate) nodes: BTreeMap<String, NodeInfo>,
    /// Each pod's node, by pod key.
    pods: HashMap<String, String>,
    /// How many nodes list each image name (ImageStateSummary.NumNodes).
    pub(crate) image_nodes: HashMap<String, usize>,
    /// How many entries of `nodes` have a node.
    pub(crate) node_count: usize,
    /// Each namespace's labels, by name (namespaceSelector in pod affinity terms).
    pub(crate) namespaces: HashMap<String, HashMap<String, String>>,
    /// Each PersistentVolumeClaim by namespace/name: whether its access modes include
    /// ReadWriteOncePod.
    pub(crate) claims: HashMap<String, bool>,
    /// How many volumes of the pods on the snapshot's nodes name each claim (namespace/name),
    /// as the cache's usedPVCRefCounts: pods on a node the snapshot lacks do not count.
    pub(crate) claims_in_use: HashMap<String, usize>,
    /// The services and controllers whose selectors PodTopologySpread's default constraints use.
    pub(crate) selector_sources: SelectorSources,
    /// The order the scheduler walks the nodes in.
    tree: NodeTree,
}

/// Adds (sign 1) or takes away (-1) the pod's claims from the counts of claims in use.
fn count_claims(in_use: &mut HashMap<String, usize>, pod: &Pod, sign: isize) {
    for key in pod.claim_keys() {
        let n = in_use.entry(key.clone()).or_insert(0);
        *n = n.wrapping_add_signed(sign);
        if *n == 0 {
            in_use.remove(&key);
        }
    }
}

impl State {
    /// The nodes the scheduler considers: those the snapshot has a Node for.
    pub(crate) fn node_infos(&self) -> impl Iterator<Item = (&NodeInfo, &Node)> {
        self.nodes
            .values()
            .filter_map(|info| info.node.as_deref().map(|n| (info, n)))
    }

    /// The nodes in the order the scheduler walks them (the node tree's: zones interleaved).
    pub(crate) fn node_infos_in_order(&self) -> Vec<(&NodeInfo, &Node)> {
        self.tree
            .order()
            .into_iter()
            .filter_map(|name| {
                let info = self.nodes.get(name)?;
                info.node.as_deref().map(|n| (info, n))
            })
            .collect()
    }

    fn count_images(&mut self, node: &Node, sign: isize) {
        for name in node.images.keys() {
            let n = self.image_nodes.entry(name.clone()).or_insert(0);
            *n = n.wrapping_add_signed(sign);
            if *n == 0 {
                self.image_nodes.remove(name);
            }
        }
    }

    fn set_node(&mut self, node: Node, must_exist: bool) -> Result<(), String> {
        let exists = self.nodes.get(&node.name).is_some_and(|i| i.node.is_some());
        if exists != must_exist {
            let what = if must_exist {
                "is not in the snapshot"
            } else {
                "is already in the snapshot"
            };
            return Err(format!("node {:?} {what}", node.name));
        }
        let node = Arc::new(node);
        let old = self.nodes.get(&node.name).and_then(|i| i.node.clone());
        let arrived = old.is_none();
        let zone = zone_key(&node);
        if let Some(old) = old {
            self.count_images(&old, -1);
            // A node that changes zone moves to the end of its new zone, as in the node tree.
            let old_zone = zone_key(&old);
            if old_zone != zone {
                self.tree.remove(&old_zone, &node.name);
                self.tree.add(zone, &node.name);
            }
        } else {
            self.node_count += 1;
            self.tree.add(zone, &node.name);
        }
        self.count_images(&node, 1);
        let info = self.nodes.entry(node.name.clone()).or_default();
        info.set_node(node);
        if arrived {
            for assigned in info.pods.values() {
                count_claims(&mut self.claims_in_use, &assigned.pod, 1);
            }
        }
        Ok(())
    }

    fn remove_node(&mut self, name: &str) -> Result<(), String> {
        let Some(info) = self.nodes.get_mut(name).filter(|i| i.node.is_some()) else {
            return Err(format!("node {name:?} is not in the snapshot"));
        };
        let old = info.node.take().expect("checked above");
        self.tree.remove(&zone_key(&old), name);
        for assigned in info.pods.values() {
            count_claims(&mut self.claims_in_use, &assigned.pod, -1);
        }
        // Pods still assigned keep the entry until they go, as the scheduler's cache does.
        if info.pods.is_empty() {
            self.nodes.remove(name);
        }
        self.node_count -= 1;
        self.count_images(&old, -1);
        Ok(())
    }

    fn add_pod(&mut self, pod: Pod, node_name: Option<String>) -> Result<(), String> {
        let node_name = node_name
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| pod.node_name.clone());
        if node_name.is_empty() {
            return Err(format!(
                "pod {}/{} has no spec.nodeName and no node was given",
                pod.namespace, pod.name
            ));
        }
        let key = pod.key();
        if self.pods.contains_key(&key) {
            return Err(format!("pod {key:?} is already in the snapshot"));
        }
        let info = self.nodes.entry(node_name.clone()).or_default();
        if info.node.is_some() {
            count_claims(&mut self.claims_in_use, &pod, 1);
        }
        info.add_pod(key.clone(), Arc::new(pod));
        self.pods.insert(key, node_name);
        Ok(())
    }

    fn remove_pod(&mut self, key: &str) -> Result<(), String> {
        let node_name = self
            .pods
            .remove(key)
            .ok_or_else(|| format!("pod {key:?} is not in the snapshot"))?;
        let info = self.nodes.get_mut(&node_name).expect("a pod's node entry outlives it");
        let gone = info.remove_pod(key).expect("the pod index and the node entry agree");
        if info.node.is_some() {
            count_claims(&mut self.claims_in_use, &gone.pod, -1);
        }
        if info.node.is_none() && info.pods.is_empty() {
            self.nodes.remove(&node_name);
        }
        Ok(())
    }
}

/// Reads a pod or node given as a compact object or any Mapping.
pub(crate) fn read_object<T>(
    py: Python<'_>,
    obj: &Bound<'_, PyAny>,
    read: impl Fn(View<'_>) -> Result<T, String>,
) -> PyResult<T> {
    let compact: Py<CompactObject> = to_compact(py, obj)?;
    read(View::of(compact.get())).map_err(PyValueError::new_err)
}

/// Nodes and the pods assigned to them, for the scheduler's plugins.
#[pyclass(frozen, module = "kcore.scheduler")]
pub struct Snapshot {
    state: RwLock<State>,
}

impl Snapshot {
    pub(crate) fn state(&self) -> &RwLock<State> {
        &self.state
    }

    pub(crate) fn read(&self, py: Python<'_>) -> RwLockReadGuard<'_, State> {
        self.state.try_read().unwrap_or_else(|| py.detach(|| self.state.read()))
    }

    fn write(&self, py: Python<'_>) -> RwLockWriteGuard<'_, State> {
        self.state
            .try_write()
            .unwrap_or_else(|| py.detach(|| self.state.write()))
    }
}

fn key_error(e: String) -> PyErr {
    PyKeyError::new_err(e)
}

#[pymethods]
impl Snapshot {
    #[new]
    fn new() -> Self {
        Snapshot {
            state: RwLock::new(State::default()),
        }
    }

    fn add_node(&self, py: Python<'_>, node: &Bound<'_, PyAny>) -> PyResult<()> {
        let node = read_object(py, node, Node::read)?;
        self.write(py).set_node(node, false).map_err(PyValueError::new_err)
    }

    fn update_node(&self, py: Python<'_>, node: &Bound<'_, PyAny>) -> PyResult<()> {
        let node = read_object(py, node, Node::read)?;
        self.write(py).set_node(node, true).map_err(key_error)
    }

    fn remove_node(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        self.write(py).remove_node(name).map_err(key_error)
    }

    #[pyo3(signature = (pod, node_name=None))]
    fn add_pod(&self, py: Python<'_>, pod: &Bound<'_, PyAny>, node_name: Option<String>) -> PyResult<()> {
        let pod = read_object(py, pod, Pod::read)?;
        self.write(py).add_pod(pod, node_name).map_err(PyValueError::new_err)
    }

    fn remove_pod(&self, py: Python<'_>, pod: &Bound<'_, PyAny>) -> PyResult<()> {
        let key = read_object(py, pod, |v| Pod::read(v).map(|p| p.key()))?;
        self.write(py).remove_pod(&key).map_err(key_error)
    }

    /// Adds or replaces a namespace (its name and labels).
    fn set_namespace(&self, py: Python<'_>, namespace: &Bound<'_, PyAny>) -> PyResult<()> {
        let (name, labels) = read_object(py, namespace, |v| {
            let meta = super::read::field(v, "metadata").ok_or("namespace: metadata is missing")?;
            let name = super::read::string(meta, "name", "metadata")?;
            if name.is_empty() {
                return Err("namespace: metadata.name is missing".to_owned());
            }
            Ok((
                name,
                super::read::string_map(meta, "labels", "metadata")?.unwrap_or_default(),
            ))
        })?;
        self.write(py).namespaces.insert(name, labels.into_iter().collect());
        Ok(())
    }

    /// Adds or replaces a PersistentVolumeClaim (its namespace, name and access modes).
    fn set_persistent_volume_claim(&self, py: Python<'_>, claim: &Bound<'_, PyAny>) -> PyResult<()> {
        let (key, read_write_once_pod) = read_object(py, claim, |v| {
            let meta = super::read::field(v, "metadata").ok_or("persistentvolumeclaim: metadata is missing")?;
            let name = super::read::string(meta, "name", "metadata")?;
            if name.is_empty() {
                return Err("persistentvolumeclaim: metadata.name is missing".to_owned());
            }
            let namespace = super::read::string(meta, "namespace", "metadata")?;
            let modes = match super::read::field(v, "spec") {
                Some(spec) => super::read::strings(spec, "accessModes", "spec")?,
                None => Vec::new(),
            };
            Ok((
                format!("{namespace}/{name}"),
                modes.iter().any(|m| m == "ReadWriteOncePod"),
            ))
        })?;
        self.write(py).claims.insert(key, read_write_once_pod);
        Ok(())
    }

    fn remove_persistent_volume_claim(&self, py: Python<'_>, namespace: &str, name: &str) -> PyResult<()> {
        let key = format!("{namespace}/{name}");
        self.write(py)
            .claims
            .remove(&key)
            .map(|_| ())
            .ok_or_else(|| key_error(format!("persistentvolumeclaim {key:?} is not in the snapshot")))
    }

    /// Adds or replaces a Service, ReplicationController, ReplicaSet or StatefulSet (`kind`):
    /// its namespace, name and spec.selector.
    fn set_selector_source(&self, py: Python<'_>, kind: &str, obj: &Bound<'_, PyAny>) -> PyResult<()> {
        let compact = to_compact(py, obj)?;
        self.write(py)
            .selector_sources
            .set(kind, View::of(compact.get()))
            .map_err(|e| PyValueError::new_err(format!("{kind}: {e}")))
    }

    fn remove_selector_source(&self, py: Python<'_>, kind: &str, namespace: &str, name: &str) -> PyResult<()> {
        self.write(py)
            .selector_sources
            .remove(kind, namespace, name)
            .map_err(key_error)
    }

    fn remove_namespace(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        self.write(py)
            .namespaces
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| key_error(format!("namespace {name:?} is not in the snapshot")))
    }

    /// The names of the nodes, sorted.
    fn node_names(&self, py: Python<'_>) -> Vec<String> {
        self.read(py).node_infos().map(|(_, n)| n.name.clone()).collect()
    }

    /// The names of the nodes in the order the scheduler walks them.
    fn node_order(&self, py: Python<'_>) -> Vec<String> {
        self.read(py)
            .node_infos_in_order()
            .into_iter()
            .map(|(_, n)| n.name.clone())
            .collect()
    }

    /// The keys of the pods assigned to `node_name` (those assumed included), sorted.
    fn pod_keys(&self, py: Python<'_>, node_name: &str) -> Vec<String> {
        let st = self.read(py);
        let mut keys: Vec<String> = st
            .nodes
            .get(node_name)
            .map(|i| i.pods.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    }

    /// What the scheduler counts on `node_name`: allocatable and requested (cpu in millicores,
    /// the rest in units), the non-zero requests scoring uses, the pod count.
    fn node_usage(&self, py: Python<'_>, node_name: &str) -> PyResult<HashMap<String, BTreeMap<String, i64>>> {
        let st = self.read(py);
        let info = st
            .nodes
            .get(node_name)
            .filter(|i| i.node.is_some())
            .ok_or_else(|| key_error(format!("node {node_name:?} is not in the snapshot")))?;
        let table = |r: &super::resources::Resource| {
            let mut t = BTreeMap::from([
                ("cpu".to_owned(), r.milli_cpu),
                ("memory".to_owned(), r.memory),
                ("ephemeral-storage".to_owned(), r.ephemeral_storage),
            ]);
            t.extend(r.scalar.iter().map(|(k, v)| (k.clone(), *v)));
            t
        };
        let mut allocatable = table(&info.allocatable);
        allocatable.insert("pods".to_owned(), info.allocatable.allowed_pods);
        let mut requested = table(&info.requested);
        requested.insert("pods".to_owned(), info.pods.len() as i64);
        let non_zero = BTreeMap::from([
            ("cpu".to_owned(), info.non_zero_milli_cpu),
            ("memory".to_owned(), info.non_zero_memory),
        ]);
        Ok(HashMap::from([
            ("allocatable".to_owned(), allocatable),
            ("requested".to_owned(), requested),
            ("non_zero_requested".to_owned(), non_zero),
        ]))
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.read(py).node_count
    }
}
