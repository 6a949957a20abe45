//! ImageLocality: prefers nodes that already have the pod's images, weighing each by its size
//! and by how many nodes have it (an image everywhere gives no reason to prefer one).
use super::{NodeScorer, PreScore, ScorePlugin, MAX_NODE_SCORE};
use crate::scheduler::node::Node;
use crate::scheduler::node_info::NodeInfo;
use crate::scheduler::pod::Pod;
use crate::scheduler::snapshot::State;

pub(crate) const NAME: &str = "ImageLocality";
const MB: i64 = 1024 * 1024;
const MIN_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// An image without a tag means ":latest".
fn normalized(name: &str) -> String {
    let colon = name.rfind(':').map_or(-1, |i| i as isize);
    let slash = name.rfind('/').map_or(-1, |i| i as isize);
    if colon <= slash {
        format!("{name}:latest")
    } else {
        name.to_owned()
    }
}

struct Images<'p> {
    images: Vec<String>,
    image_count: i64,
    state: &'p State,
}

impl NodeScorer for Images<'_> {
    fn score(&self, _: &NodeInfo, node: &Node) -> i64 {
        let total = self.state.node_count;
        let mut sum = 0i64;
        for image in &self.images {
            if let Some(size) = node.images.get(image) {
                let spread = self.state.image_nodes.get(image).copied().unwrap_or(0) as f64 / total as f64;
                sum += (*size as f64 * spread) as i64;
            }
        }
        let max_threshold = MAX_CONTAINER_THRESHOLD * self.image_count;
        let clamped = if sum < MIN_THRESHOLD {
            MIN_THRESHOLD
        } else {
            sum.min(max_threshold)
        };
        MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
    }
}

pub(crate) struct ImageLocality;

impl ScorePlugin for ImageLocality {
    fn name(&self) -> &'static str {
        NAME
    }

    fn pre_score<'p>(
        &'p self,
        pod: &'p Pod,
        state: &'p State,
        _: &[(&NodeInfo, &Node)],
    ) -> Result<PreScore<'p>, String> {
        let containers = pod.init_containers.iter().chain(pod.containers.iter());
        let mut images: Vec<String> = containers.map(|c| normalized(&c.image)).collect();
        images.extend(pod.image_volumes.iter().map(|r| normalized(r)));
        let image_count = images.len() as i64;
        Ok(PreScore::Run(Box::new(Images {
            images,
            image_count,
            state,
        })))
    }
}
