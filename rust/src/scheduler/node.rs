//! The parts of a v1.Node the scheduler reads, taken once from the object.
use super::read::{boolean, field, int, list, resource_list, string, string_map, strings, Read};
use super::resources::ResourceList;
use crate::informer::view::View;
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug)]
pub(crate) struct Taint {
    pub(crate) key: String,
    pub(crate) value: String,
    pub(crate) effect: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) labels: HashMap<String, String>,
    pub(crate) unschedulable: bool,
    pub(crate) taints: Vec<Taint>,
    pub(crate) allocatable: ResourceList,
    /// status.images: each name with the size of the (last) image listing it.
    pub(crate) images: BTreeMap<String, i64>,
}

impl Node {
    pub(crate) fn read(obj: View<'_>) -> Read<Node> {
        let (name, labels) = match field(obj, "metadata") {
            Some(m) => (
                string(m, "name", "metadata")?,
                string_map(m, "labels", "metadata")?.unwrap_or_default(),
            ),
            None => Default::default(),
        };
        if name.is_empty() {
            return Err("node: metadata.name is missing".to_owned());
        }
        let mut unschedulable = false;
        let mut taints = Vec::new();
        if let Some(spec) = field(obj, "spec") {
            unschedulable = boolean(spec, "unschedulable", "spec")?;
            for (i, t) in list(spec, "taints", "spec")?.into_iter().flatten().enumerate() {
                let at = format!("spec.taints[{i}]");
                taints.push(Taint {
                    key: string(t, "key", &at)?,
                    value: string(t, "value", &at)?,
                    effect: string(t, "effect", &at)?,
                });
            }
        }
        let mut allocatable = ResourceList::new();
        let mut images = BTreeMap::new();
        if let Some(status) = field(obj, "status") {
            allocatable = resource_list(status, "allocatable", "status")?.unwrap_or_default();
            for (i, image) in list(status, "images", "status")?.into_iter().flatten().enumerate() {
                let at = format!("status.images[{i}]");
                let size = int(image, "sizeBytes", &at)?;
                for n in strings(image, "names", &at)? {
                    images.insert(n, size);
                }
            }
        }
        Ok(Node {
            name,
            labels: labels.into_iter().collect(),
            unschedulable,
            taints,
            allocatable,
            images,
        })
    }
}
