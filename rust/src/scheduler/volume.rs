//! The parts of a pod's volumes the scheduler reads: the inline disks that one node cannot
//! attach twice (GCE PD, AWS EBS, iSCSI, RBD) and the PersistentVolumeClaims it names.
use super::read::{boolean, field, string, strings, Read};
use crate::informer::view::View;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rbd {
    pub(crate) monitors: Vec<String>,
    pub(crate) pool: String,
    pub(crate) image: String,
    pub(crate) read_only: bool,
}

/// One v1.Volume's sources that VolumeRestrictions looks at, each None when not set (the API
/// allows one source, but a decoded object may carry several and each is checked).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Volume {
    /// gcePersistentDisk: (pdName, readOnly).
    pub(crate) gce_pd: Option<(String, bool)>,
    /// awsElasticBlockStore.volumeID.
    pub(crate) aws_ebs: Option<String>,
    /// iscsi: (iqn, readOnly).
    pub(crate) iscsi: Option<(String, bool)>,
    pub(crate) rbd: Option<Rbd>,
    /// persistentVolumeClaim.claimName.
    pub(crate) claim: Option<String>,
}

impl Volume {
    pub(crate) fn read(v: View<'_>, path: &str) -> Read<Volume> {
        let with_read_only = |key: &str, name: &str| -> Read<Option<(String, bool)>> {
            let Some(source) = field(v, key) else { return Ok(None) };
            let at = format!("{path}.{key}");
            Ok(Some((string(source, name, &at)?, boolean(source, "readOnly", &at)?)))
        };
        let gce_pd = with_read_only("gcePersistentDisk", "pdName")?;
        let iscsi = with_read_only("iscsi", "iqn")?;
        let aws_ebs = field(v, "awsElasticBlockStore")
            .map(|s| string(s, "volumeID", &format!("{path}.awsElasticBlockStore")))
            .transpose()?;
        let rbd = match field(v, "rbd") {
            None => None,
            Some(s) => {
                let at = format!("{path}.rbd");
                Some(Rbd {
                    monitors: strings(s, "monitors", &at)?,
                    pool: string(s, "pool", &at)?,
                    image: string(s, "image", &at)?,
                    read_only: boolean(s, "readOnly", &at)?,
                })
            }
        };
        let claim = field(v, "persistentVolumeClaim")
            .map(|s| string(s, "claimName", &format!("{path}.persistentVolumeClaim")))
            .transpose()?;
        Ok(Volume {
            gce_pd,
            aws_ebs,
            iscsi,
            rbd,
            claim,
        })
    }

    /// An inline disk that a node attaches once (needsRestrictionsCheck).
    pub(crate) fn is_exclusive_disk(&self) -> bool {
        self.gce_pd.is_some() || self.aws_ebs.is_some() || self.iscsi.is_some() || self.rbd.is_some()
    }
}
