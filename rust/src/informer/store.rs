//! The informer's cache (client-go's ThreadSafeStore + Indexer): key → compact object, with
//! indices, behind one lock.
//!
//! Python never runs under the lock: index functions are called before it is taken (a store is
//! unchanged when one raises), results become Python lists after it is released, and a thread
//! attached to the interpreter that finds the lock taken waits detached, so a holder that needs
//! the GIL is never blocked by a waiter that has it. A write made with index values computed
//! for other indexers than the store now has (add_indexers ran meanwhile) is computed again.
use super::convert::to_compact;
use super::fields::{self, FieldSelector};
use super::index::{self, Index, Indexer, Values, NAMESPACE};
use super::keys::key_of;
use super::label_index::LabelIndex;
use super::selector::{self, LabelSelector, Labels};
use super::view::{meta_str, View};
use crate::codec::compact::CompactObject;
use hashbrown::HashMap;
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::gc::PyVisit;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyMapping, PyString};
use pyo3::PyTraverseError;
use std::sync::Arc;

struct Entry {
    obj: Py<CompactObject>,
    /// Its values in the user indices, to unfile it without calling Python again.
    values: Box<[(usize, Arc<str>)]>,
}

/// An object ready to go in: its key and index values are computed.
struct Prepared {
    key: Arc<str>,
    obj: Py<CompactObject>,
    values: Values,
}

/// The labels of a stored object, read from its tape.
struct ObjectLabels<'a>(Option<View<'a>>);

fn labels_of(obj: &CompactObject) -> Option<View<'_>> {
    View::of(obj).path(["metadata", "labels"])
}

impl Labels for ObjectLabels<'_> {
    fn lookup(&self, key: &str) -> Option<&str> {
        self.0?.get(key)?.as_str()
    }
}

struct State {
    items: HashMap<Arc<str>, Entry>,
    namespaces: Index,
    labels: LabelIndex,
    /// Replaced, never changed in place: a writer compares it with what it computed values for.
    indexers: Arc<Vec<Indexer>>,
    /// One per indexer, in the same order.
    indices: Vec<Index>,
}

impl State {
    fn empty(indexers: Arc<Vec<Indexer>>) -> Self {
        let indices = indexers.iter().map(|_| Index::default()).collect();
        State {
            items: HashMap::new(),
            namespaces: Index::default(),
            labels: LabelIndex::default(),
            indexers,
            indices,
        }
    }

    /// Inserts or replaces; returns the entry replaced.
    fn insert(&mut self, p: Prepared) -> Option<Entry> {
        let (key, old) = match self.items.remove_entry(&*p.key) {
            Some((key, old)) => {
                self.unfile(&key, &old);
                (key, Some(old))
            }
            None => (p.key, None),
        };
        if let Some(ns) = meta_str(p.obj.get(), "namespace") {
            index::add(&mut self.namespaces, ns, &key);
        }
        self.labels.add(labels_of(p.obj.get()), &key);
        let values = p
            .values
            .into_iter()
            .map(|(i, v)| (i, index::add(&mut self.indices[i], &v, &key)))
            .collect();
        self.items.insert(key, Entry { obj: p.obj, values });
        old
    }

    fn remove(&mut self, key: &str) -> Option<Entry> {
        let (key, old) = self.items.remove_entry(key)?;
        self.unfile(&key, &old);
        Some(old)
    }

    fn unfile(&mut self, key: &str, e: &Entry) {
        if let Some(ns) = meta_str(e.obj.get(), "namespace") {
            index::remove(&mut self.namespaces, ns, key);
        }
        self.labels.remove(labels_of(e.obj.get()), key);
        for (i, v) in e.values.iter() {
            index::remove(&mut self.indices[*i], v, key);
        }
    }

    fn index(&self, name: &str) -> PyResult<&Index> {
        if name == NAMESPACE {
            return Ok(&self.namespaces);
        }
        match self.indexers.iter().position(|ix| ix.name == name) {
            Some(i) => Ok(&self.indices[i]),
            None => Err(PyKeyError::new_err(format!("Index with name {name} does not exist"))),
        }
    }

    fn indexed(&self, index: &str, value: &str) -> PyResult<impl Iterator<Item = (&Arc<str>, &Entry)> + '_> {
        let keys = self.index(index)?.get(value).into_iter().flatten();
        Ok(keys.filter_map(|k| self.items.get_key_value(&**k)))
    }
}

/// A label selector argument: text or already parsed.
fn label_selector(arg: Option<&Bound<'_, PyAny>>) -> PyResult<selector::Selector> {
    let Some(arg) = arg else { return Ok(Default::default()) };
    if let Ok(s) = arg.cast::<LabelSelector>() {
        return Ok(s.get().selector.clone());
    }
    let text = arg
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err("label_selector must be a str or a LabelSelector"))?;
    selector::parse(&text.to_cow()?).map_err(PyValueError::new_err)
}

fn field_selector(arg: Option<&Bound<'_, PyAny>>) -> PyResult<fields::Selector> {
    let Some(arg) = arg else { return Ok(Default::default()) };
    if let Ok(s) = arg.cast::<FieldSelector>() {
        return Ok(s.get().selector.clone());
    }
    let text = arg
        .cast::<PyString>()
        .map_err(|_| PyTypeError::new_err("field_selector must be a str or a FieldSelector"))?;
    fields::parse(&text.to_cow()?).map_err(PyValueError::new_err)
}

/// A thread-safe, indexed cache of compact objects by key ("namespace/name" or "name").
#[pyclass(frozen, module = "kcore.informer")]
pub struct Store {
    state: RwLock<State>,
}

impl Store {
    fn read(&self, py: Python<'_>) -> RwLockReadGuard<'_, State> {
        self.state.try_read().unwrap_or_else(|| py.detach(|| self.state.read()))
    }

    fn write(&self, py: Python<'_>) -> RwLockWriteGuard<'_, State> {
        self.state
            .try_write()
            .unwrap_or_else(|| py.detach(|| self.state.write()))
    }

    fn prepare(py: Python<'_>, obj: &Bound<'_, PyAny>, indexers: &[Indexer]) -> PyResult<Prepared> {
        let obj = to_compact(py, obj)?;
        let key = Arc::from(key_of(obj.get())?);
        let values = index::values_of(py, indexers, 0, obj.bind(py))?;
        Ok(Prepared { key, obj, values })
    }

    fn objects<'a>(py: Python<'_>, entries: impl Iterator<Item = &'a Entry>) -> Vec<Py<CompactObject>> {
        entries.map(|e| e.obj.clone_ref(py)).collect()
    }
}

#[pymethods]
impl Store {
    #[new]
    fn new() -> Self {
        Store {
            state: RwLock::new(State::empty(Arc::new(Vec::new()))),
        }
    }

    /// Adds index functions by name; the objects already stored are indexed by them at once.
    fn add_indexers(&self, py: Python<'_>, indexers: &Bound<'_, PyMapping>) -> PyResult<()> {
        let mut added = Vec::new();
        for item in indexers.items()?.iter() {
            let (name, func): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            let name: String = name
                .extract()
                .map_err(|_| PyTypeError::new_err("indexer names must be str"))?;
            if !func.is_callable() {
                return Err(PyTypeError::new_err(format!("indexer {name:?} is not callable")));
            }
            added.push((name, func.unbind()));
        }
        // Values already computed, by object (held, so that its address stays its own): a
        // write that comes while index functions run costs only the objects it brought.
        let mut computed: HashMap<usize, (Py<CompactObject>, Values)> = HashMap::new();
        loop {
            let (current, missing) = {
                let st = self.read(py);
                let missing: Vec<Py<CompactObject>> = st
                    .items
                    .values()
                    .filter(|e| !computed.contains_key(&(e.obj.as_ptr() as usize)))
                    .map(|e| e.obj.clone_ref(py))
                    .collect();
                (st.indexers.clone(), missing)
            };
            let conflicts: Vec<&str> = added
                .iter()
                .map(|(n, _)| n.as_str())
                .filter(|n| *n == NAMESPACE || current.iter().any(|ix| ix.name == *n))
                .collect();
            if !conflicts.is_empty() {
                return Err(PyValueError::new_err(format!(
                    "indexer conflict: {}",
                    conflicts.join(", ")
                )));
            }
            let new: Vec<Indexer> = added
                .iter()
                .map(|(name, func)| Indexer {
                    name: name.clone(),
                    func: func.clone_ref(py),
                })
                .collect();
            for obj in missing {
                let values = index::values_of(py, &new, current.len(), obj.bind(py))?;
                computed.insert(obj.as_ptr() as usize, (obj, values));
            }
            let mut st = self.write(py);
            if !Arc::ptr_eq(&st.indexers, &current) {
                computed.clear(); // other indexers came first: our numbering is off
                continue;
            }
            if st
                .items
                .values()
                .any(|e| !computed.contains_key(&(e.obj.as_ptr() as usize)))
            {
                continue; // objects written meanwhile: index them too
            }
            let all: Vec<Indexer> = current
                .iter()
                .map(|ix| Indexer {
                    name: ix.name.clone(),
                    func: ix.func.clone_ref(py),
                })
                .chain(new)
                .collect();
            st.indices.resize_with(all.len(), Index::default);
            let replaced = std::mem::replace(&mut st.indexers, Arc::new(all));
            let State { items, indices, .. } = &mut *st;
            for (key, entry) in items.iter_mut() {
                let (_, values) = computed.remove(&(entry.obj.as_ptr() as usize)).expect("checked above");
                let mut kept = std::mem::take(&mut entry.values).into_vec();
                kept.extend(
                    values
                        .into_iter()
                        .map(|(i, v)| (i, index::add(&mut indices[i], &v, key))),
                );
                entry.values = kept.into_boxed_slice();
            }
            drop(st);
            // The replaced indexers and the objects no longer stored may hold the last
            // references: released after the lock.
            drop((replaced, computed));
            return Ok(());
        }
    }

    /// Inserts or replaces `obj` under its key; returns the object it replaced, if any.
    fn upsert(&self, py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Option<Py<CompactObject>>> {
        let (mut st, prepared) = loop {
            let indexers = self.read(py).indexers.clone();
            let prepared = Self::prepare(py, obj, &indexers)?;
            let st = self.write(py);
            if Arc::ptr_eq(&st.indexers, &indexers) {
                break (st, prepared);
            }
        };
        let old = st.insert(prepared);
        drop(st);
        Ok(old.map(|e| e.obj))
    }

    /// Removes the object under `key`; returns it, if there was one.
    fn delete(&self, py: Python<'_>, key: &str) -> Option<Py<CompactObject>> {
        let mut st = self.write(py);
        let old = st.remove(key);
        drop(st);
        old.map(|e| e.obj)
    }

    /// Replaces the whole content at once: a reader sees all of the old content or all of the new.
    fn replace(&self, py: Python<'_>, objs: &Bound<'_, PyAny>) -> PyResult<()> {
        loop {
            let indexers = self.read(py).indexers.clone();
            let mut prepared = Vec::new();
            for obj in objs.try_iter()? {
                prepared.push(Self::prepare(py, &obj?, &indexers)?);
            }
            // Build the new maps without the GIL (Python threads go on), then swap them in.
            let (swapped, discarded) = py.detach(|| {
                let mut new = State::empty(indexers.clone());
                let duplicates: Vec<Entry> = prepared.into_iter().filter_map(|p| new.insert(p)).collect();
                let mut st = self.state.write();
                let swapped = Arc::ptr_eq(&st.indexers, &indexers);
                if swapped {
                    std::mem::swap(&mut *st, &mut new);
                }
                (swapped, (new, duplicates))
            });
            // Objects are released attached, after the lock: the old content, or the new one
            // built for indexers that changed meanwhile.
            drop(discarded);
            if swapped {
                return Ok(());
            }
        }
    }

    /// The object under `key`, or None.
    fn get(&self, py: Python<'_>, key: &str) -> Option<Py<CompactObject>> {
        self.read(py).items.get(key).map(|e| e.obj.clone_ref(py))
    }

    fn __len__(&self, py: Python<'_>) -> usize {
        self.read(py).items.len()
    }

    fn list_keys(&self, py: Python<'_>) -> Vec<String> {
        self.read(py).items.keys().map(|k| k.to_string()).collect()
    }

    /// The objects, optionally only those in `namespace` (via the namespace index) and those
    /// the selectors select (text or parsed; a malformed one raises ValueError).
    #[pyo3(signature = (label_selector=None, field_selector=None, namespace=None))]
    fn list<'py>(
        &self,
        py: Python<'py>,
        label_selector: Option<&Bound<'py, PyAny>>,
        field_selector: Option<&Bound<'py, PyAny>>,
        namespace: Option<&str>,
    ) -> PyResult<Bound<'py, PyList>> {
        let labels = self::label_selector(label_selector)?;
        let fields = self::field_selector(field_selector)?;
        // "" is every namespace (metav1.NamespaceAll), as in client-go's listers.
        let namespace = namespace.filter(|ns| !ns.is_empty());
        let selected = |e: &&Entry| {
            let obj = e.obj.get();
            (labels.is_empty() || labels.matches(&ObjectLabels(labels_of(obj))))
                && (fields.is_empty() || fields.matches(View::of(obj)))
        };
        // An object is in namespace ns exactly when its key is "ns/name": no need to read its tape.
        let in_namespace = |key: &str| {
            namespace.is_none_or(|ns| key.len() > ns.len() && key.starts_with(ns) && key.as_bytes()[ns.len()] == b'/')
        };
        let objs = {
            let st = self.read(py);
            // Only the objects that can match: those of the namespace, or of the selector's
            // narrowest required label, whichever are fewer.
            let in_index = namespace.map(|ns| {
                st.namespaces
                    .get(ns)
                    .map(|keys| keys.iter().collect::<Vec<_>>())
                    .unwrap_or_default()
            });
            let labelled = st.labels.candidates(&labels);
            let candidates = match (in_index, labelled) {
                (Some(a), Some(b)) => Some(if a.len() <= b.len() { a } else { b }),
                (a, b) => a.or(b),
            };
            match candidates {
                Some(keys) => Self::objects(
                    py,
                    keys.into_iter()
                        .filter(|k| in_namespace(k))
                        .filter_map(|k| st.items.get(&**k))
                        .filter(selected),
                ),
                None => Self::objects(py, st.items.values().filter(selected)),
            }
        };
        PyList::new(py, objs)
    }

    /// The objects whose index function gave `value`.
    fn by_index(&self, py: Python<'_>, index_name: &str, value: &str) -> PyResult<Vec<Py<CompactObject>>> {
        let st = self.read(py);
        let objs = Self::objects(py, st.indexed(index_name, value)?.map(|(_, e)| e));
        Ok(objs)
    }

    /// The keys of the objects whose index function gave `value`.
    fn index_keys(&self, py: Python<'_>, index_name: &str, value: &str) -> PyResult<Vec<String>> {
        Ok(self
            .read(py)
            .indexed(index_name, value)?
            .map(|(k, _)| k.to_string())
            .collect())
    }

    /// The values the index holds objects under.
    fn list_index_values(&self, py: Python<'_>, index_name: &str) -> PyResult<Vec<String>> {
        Ok(self.read(py).index(index_name)?.keys().map(|v| v.to_string()).collect())
    }

    /// key → metadata.resourceVersion ("" if it has none), to compare the cache with a LIST.
    fn resource_versions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let versions: Vec<(Arc<str>, String)> = {
            let st = self.read(py);
            st.items
                .iter()
                .map(|(k, e)| {
                    (
                        k.clone(),
                        meta_str(e.obj.get(), "resourceVersion").unwrap_or("").to_owned(),
                    )
                })
                .collect()
        };
        let out = PyDict::new(py);
        for (k, v) in versions {
            out.set_item(&*k, v)?;
        }
        Ok(out)
    }

    /// The index functions are references the garbage collector must see (a function that
    /// closes over its informer makes a cycle). Skipped while a writer holds the lock: an
    /// unreported reference only keeps objects alive a while longer.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        if let Some(st) = self.state.try_read() {
            for ix in st.indexers.iter() {
                visit.call(&ix.func)?;
            }
        }
        Ok(())
    }
}
