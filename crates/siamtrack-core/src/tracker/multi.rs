//! Several targets in one pass: one encoder for all, every target's crops of the frame (a lost one's recovery
//! scan among them) embedded together, one batch per crop size, and everything after the encoder per target, each
//! a [`Tracker`] of its own (template, online models, confidence, lost state and recovery).

use super::fusion::Other;
use super::{
    cores, embed_crops, in_parallel, Embedding, FramePlan, SharedEncoder, StageTimings, Track,
    Tracker,
};
use crate::bbox::BBox;
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::image::ImageView;
use crate::model::{Encoder, EncoderOptions};
use ndarray::{s, Array4};
use std::sync::{Arc, Mutex};

/// A target's update after the batch: its index, tracker, plan, features and crops, and time so far.
type Job<'a> = (
    usize,
    &'a mut Tracker,
    &'a FramePlan,
    Embedding,
    StageTimings,
);

/// A target's share of the frame's batches: its index, features and crops, and share of the time.
type Share = (usize, Embedding, StageTimings);

/// Several targets tracked at once over one encoder: [`MultiTracker::add`] each target on a frame, then
/// [`MultiTracker::update`] on each next frame gives every target's [`Track`]. Each target has its own template,
/// online models, confidence and lost state, and takes the other held targets as known distractors (no match
/// inside another's box where that one's template matches clearly better); lost targets take the recovery scan's
/// step in turn, so together they cost what one does.
///
/// ```
/// use siamtrack_core::{BBox, ChannelOrder, EncoderOptions, ImageView, ModelConfig, MultiTracker};
/// # fn main() -> Result<(), siamtrack_core::Error> {
/// let mut targets = MultiTracker::new(&ModelConfig::shipped(), &EncoderOptions::default())?;
/// let pixels = vec![128u8; 320 * 240 * 3];
/// let frame = ImageView::new(&pixels, 320, 240, ChannelOrder::Bgr)?;
/// let first = targets.add(&frame, BBox::new(20.0, 30.0, 40.0, 40.0))?;
/// let second = targets.add(&frame, BBox::new(200.0, 100.0, 30.0, 50.0))?;
/// assert_eq!((first, second), (1, 2));
/// assert!(targets.remove(first));
/// assert_eq!(targets.ids(), [2]);
/// assert_eq!(targets.update(&frame)?.len(), 1);
/// # Ok(()) }
/// ```
pub struct MultiTracker {
    model: ModelConfig,
    encoder: SharedEncoder,
    /// The targets in the order added, with their ids.
    targets: Vec<Tracker>,
    ids: Vec<usize>,
    next_id: usize,
    /// The batch's encoder input, reused from frame to frame.
    input: Array4<f32>,
    /// Turns of the recovery scan between lost targets.
    scan_turn: usize,
    timings: StageTimings,
}

impl MultiTracker {
    /// Loads the model's encoder, shared by every target; targets come with [`MultiTracker::add`].
    pub fn new(model: &ModelConfig, options: &EncoderOptions) -> Result<Self> {
        Ok(Self {
            model: model.clone(),
            encoder: Arc::new(Mutex::new(Encoder::load(model, options)?)),
            targets: Vec::new(),
            ids: Vec::new(),
            next_id: 1,
            input: Array4::zeros((0, 3, 0, 0)),
            scan_turn: 0,
            timings: StageTimings::default(),
        })
    }

    /// Starts tracking the target inside `bbox` (0-based pixels) on `frame`; returns its id (1, 2, ... in the
    /// order the targets were added; an id is never reused).
    pub fn add(&mut self, frame: &ImageView, bbox: BBox) -> Result<usize> {
        let mut tracker = Tracker::with_encoder(&self.model, self.encoder.clone());
        tracker.init(frame, bbox)?;
        self.targets.push(tracker);
        self.ids.push(self.next_id);
        self.next_id += 1;
        Ok(self.next_id - 1)
    }

    /// Stops tracking the target `id`; whether it was held.
    pub fn remove(&mut self, id: usize) -> bool {
        let Some(k) = self.ids.iter().position(|&i| i == id) else {
            return false;
        };
        self.ids.remove(k);
        self.targets.remove(k);
        true
    }

    /// The ids of the targets held, in the order [`MultiTracker::update`] gives their tracks.
    pub fn ids(&self) -> Vec<usize> {
        self.ids.clone()
    }

    /// Starts the first targets held over again from `boxes` on `frame` (a user's re-selection; targets beyond the
    /// boxes given keep going).
    pub fn restart(&mut self, frame: &ImageView, boxes: &[BBox]) -> Result<()> {
        if boxes.len() > self.targets.len() {
            return Err(Error::Box(format!(
                "{} boxes given to restart {} targets",
                boxes.len(),
                self.targets.len()
            )));
        }
        for (tracker, bbox) in self.targets.iter_mut().zip(boxes) {
            tracker.init(frame, *bbox)?;
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Where the time of the last [`MultiTracker::update`] went, summed over the targets (whose own work runs on
    /// all cores, so these can add up to more than the update's wall time).
    pub fn last_timings(&self) -> StageTimings {
        self.timings
    }

    /// Locates every target in the next frame; their tracks in the order of [`MultiTracker::ids`].
    pub fn update(&mut self, frame: &ImageView) -> Result<Vec<Track>> {
        if self.targets.is_empty() {
            return Err(Error::NotInitialised(
                "the multi-target tracker was updated before any target was added".into(),
            ));
        }
        // Each target takes the others as known distractors (only held ones: a lost target's box follows whatever
        // matches best, possibly another target).
        let held: Vec<Option<Other>> = self
            .targets
            .iter()
            .map(|t| (!t.is_lost()).then(|| t.as_other()).flatten())
            .collect();
        for (k, tracker) in self.targets.iter_mut().enumerate() {
            let others = held
                .iter()
                .enumerate()
                .filter(|&(o, _)| o != k)
                .filter_map(|(_, b)| b.clone())
                .collect();
            tracker.set_others(others);
        }
        // One lost target takes the recovery scan's step per frame, in turn, so that lost targets together cost
        // what one does (the scan's per-frame budget).
        let lost: Vec<usize> = (0..self.targets.len())
            .filter(|&k| self.targets[k].is_lost())
            .collect();
        let scanning = (!lost.is_empty()).then(|| lost[self.scan_turn % lost.len()]);
        if scanning.is_some() {
            self.scan_turn = self.scan_turn.wrapping_add(1);
        }
        let plans: Vec<FramePlan> = self
            .targets
            .iter_mut()
            .enumerate()
            .map(|(k, t)| t.frame_plan(frame, scanning == Some(k)))
            .collect::<Result<_>>()?;
        let shares = self.embed(frame, &plans)?;
        // What follows the encoder is each target's own work: on all cores, a share of the targets each (the
        // encoder's threads are idle meanwhile).
        let mut tracks: Vec<Option<Track>> = vec![None; self.targets.len()];
        let mut trackers: Vec<Option<&mut Tracker>> = self.targets.iter_mut().map(Some).collect();
        let per_core = shares.len().div_ceil(cores()).max(1);
        let mut jobs = shares.into_iter().map(|(k, own, timings)| {
            let tracker = trackers[k].take().expect("one share per target");
            (k, tracker, &plans[k], own, timings)
        });
        let parts: Vec<Vec<Job>> = std::iter::from_fn(|| {
            let part: Vec<Job> = jobs.by_ref().take(per_core).collect();
            (!part.is_empty()).then_some(part)
        })
        .collect();
        for (k, track) in in_parallel(parts, |part| finish(part, frame))?
            .into_iter()
            .flatten()
        {
            tracks[k] = Some(track?);
        }
        self.timings = self.targets.iter().map(Tracker::last_timings).fold(
            StageTimings::default(),
            |sum, t| StageTimings {
                crop_ms: sum.crop_ms + t.crop_ms,
                encoder_ms: sum.encoder_ms + t.encoder_ms,
                locate_ms: sum.locate_ms + t.locate_ms,
            },
        );
        Ok(tracks
            .into_iter()
            .map(|t| t.expect("every target was updated"))
            .collect())
    }

    /// Every plan's crops through the encoder, one batch per crop size: each target's share of the batches
    /// (target, its features and crops, its share of the time), by crop size and then id.
    fn embed(&mut self, frame: &ImageView, plans: &[FramePlan]) -> Result<Vec<Share>> {
        let mut sizes: Vec<u32> = plans.iter().map(|p| p.search.size).collect();
        sizes.sort_unstable();
        sizes.dedup();
        let mut shares = Vec::new();
        for size in sizes {
            let members: Vec<(usize, Vec<_>)> = plans
                .iter()
                .enumerate()
                .filter(|(_, p)| p.search.size == size)
                .map(|(k, p)| (k, p.crops()))
                .collect();
            let crops: Vec<_> = members.iter().flat_map(|(_, own)| own).copied().collect();
            let (embedding, batch) =
                embed_crops(&self.model, &self.encoder, &mut self.input, frame, &crops)?;
            let mut features = embedding.features;
            let mut images = embedding.crops.into_iter();
            let mut first = 0;
            for (k, own) in members {
                let count = own.len();
                let share = count as f64 / crops.len() as f64;
                let timings = StageTimings {
                    crop_ms: batch.crop_ms * share,
                    encoder_ms: batch.encoder_ms * share,
                    locate_ms: 0.0,
                };
                // A batch of one target's crops (one target, or one at this size) is handed over whole.
                let own_features = match count == crops.len() {
                    true => std::mem::replace(&mut features, Array4::zeros((0, 0, 0, 0))),
                    false => features
                        .slice(s![first..first + count, .., .., ..])
                        .to_owned(),
                };
                let own = Embedding {
                    features: own_features,
                    crops: images.by_ref().take(count).collect(),
                };
                first += count;
                shares.push((k, own, timings));
            }
        }
        Ok(shares)
    }
}

/// Finishes each job's update, in order.
fn finish(jobs: Vec<Job>, frame: &ImageView) -> Vec<(usize, Result<Track>)> {
    jobs.into_iter()
        .map(|(k, tracker, plan, own, timings)| {
            (k, tracker.update_embedded(frame, plan, own, timings))
        })
        .collect()
}
