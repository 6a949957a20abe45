//! VolumeRestrictions: an inline disk that a node attaches once (GCE PD, AWS EBS, iSCSI, RBD)
//! cannot be used again on that node unless both uses are read-only (EBS: never); a
//! PersistentVolumeClaim with the ReadWriteOncePod access mode cannot be used by a second pod.
use super::{FilterPlugin, PreFilter, Rejection};
use crate::scheduler::node::Node;
use crate::scheduler::node_info::NodeInfo;
use crate::scheduler::pod::Pod;
use crate::scheduler::snapshot::State;
use crate::scheduler::volume::Volume;
use std::collections::BTreeSet;

pub(crate) const NAME: &str = "VolumeRestrictions";
const DISK_CONFLICT: &str = "node(s) had no available disk";
const READ_WRITE_ONCE_POD_CONFLICT: &str =
    "node(s) unavailable due to PersistentVolumeClaim with ReadWriteOncePod access mode already in-use by another pod";

pub(crate) struct VolumeRestrictions;

/// isVolumeConflict: `volume` of the pod to place against the volumes of a pod on the node.
fn conflicts(volume: &Volume, existing: &Pod) -> bool {
    existing.volumes.iter().any(|e| {
        let both_read_only = |a: bool, b: bool| a && b;
        if let (Some((disk, ro)), Some((other, other_ro))) = (&volume.gce_pd, &e.gce_pd) {
            if disk == other && !both_read_only(*ro, *other_ro) {
                return true;
            }
        }
        if let (Some(id), Some(other)) = (&volume.aws_ebs, &e.aws_ebs) {
            if id == other {
                return true;
            }
        }
        if let (Some((iqn, ro)), Some((other, other_ro))) = (&volume.iscsi, &e.iscsi) {
            if iqn == other && !both_read_only(*ro, *other_ro) {
                return true;
            }
        }
        if let (Some(a), Some(b)) = (&volume.rbd, &e.rbd) {
            let monitors_overlap = a.monitors.iter().any(|m| b.monitors.contains(m));
            if monitors_overlap && a.pool == b.pool && a.image == b.image && !both_read_only(a.read_only, b.read_only) {
                return true;
            }
        }
        false
    })
}

impl FilterPlugin for VolumeRestrictions {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_filter<'p>(&'p self, pod: &'p Pod, state: &'p State) -> PreFilter<'p> {
        // The pod's claims with ReadWriteOncePod; a claim the snapshot lacks rejects the pod,
        // as the claim lister's NotFound does upstream.
        let mut read_write_once_pod = BTreeSet::new();
        for claim in pod.volumes.iter().filter_map(|v| v.claim.as_deref()) {
            match state.claims.get(&format!("{}/{claim}", pod.namespace)) {
                None => {
                    return PreFilter::Reject(Rejection::unresolvable(&format!(
                        "persistentvolumeclaim \"{claim}\" not found"
                    )))
                }
                Some(true) => {
                    read_write_once_pod.insert(claim);
                }
                Some(false) => {}
            }
        }
        let claim_in_use = read_write_once_pod
            .iter()
            .any(|c| state.claims_in_use.contains_key(&format!("{}/{c}", pod.namespace)));
        let disks: Vec<&Volume> = pod.volumes.iter().filter(|v| v.is_exclusive_disk()).collect();
        if disks.is_empty() && !claim_in_use {
            return PreFilter::Skip;
        }
        PreFilter::Run(Box::new(move |info: &NodeInfo, _: &Node| {
            if disks.iter().any(|d| info.pods.values().any(|p| conflicts(d, &p.pod))) {
                return Some(Rejection::unschedulable(DISK_CONFLICT));
            }
            claim_in_use.then(|| Rejection::unschedulable(READ_WRITE_ONCE_POD_CONFLICT))
        }))
    }
}
