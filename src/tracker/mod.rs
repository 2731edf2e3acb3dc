//! The tracker: embed the target once (its template cells weighted by how much of them the first box covers),
//! then each frame correlate it over the search crop (the Siamese response, the anchor that cannot drift), fuse
//! that with the responses of an online target model learned on the same features and of a colour model, move the
//! box to the peak of the fused response and size it: on confident frames the template at several scales votes, and
//! the scale filter refines (or, with several scaled search crops, the best-matching crop's scale decides).

mod colour;
mod multi;
mod recovery;
mod scale;
mod siamese;
mod target_model;

use colour::{ColourModel, CropBox};
pub use multi::MultiTracker;
use recovery::{ScanGeometry, Tile};
pub use scale::{ScaleFilter, ScaleParams};
pub use siamese::{Motion, PeakLocator, ScaleVote};
pub use target_model::{Spectrum, TargetModel, TargetModelParams};

use crate::bbox::BBox;
use crate::config::{ModelConfig, TrackerParams};
use crate::crop::{crop_square, fill_planes, mean_colour, to_tensor};
use crate::model::{BoxHead, Encoder, EncoderOptions};
use crate::xcorr::xcorr;
use anyhow::{bail, ensure, Result};
use ndarray::{s, Array2, Array3, Array4, ArrayView2, Axis};
use opencv::core::{Mat, CV_8UC3};
use opencv::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One encoder for several trackers (see [`MultiTracker`]); each run holds the lock.
pub(crate) type SharedEncoder = Arc<Mutex<Encoder>>;

/// Runs the shared encoder on a batch.
fn embed(encoder: &SharedEncoder, batch: &Array4<f32>) -> Result<Array4<f32>> {
    encoder
        .lock()
        .map_err(|_| anyhow::anyhow!("the encoder's lock was poisoned by a panic"))?
        .embed(batch)
}

/// The tracker's answer for one frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Track {
    pub bbox: BBox,
    /// Confidence of the match in 0..1: the response peak relative to how the target matched itself on the
    /// first frame (1) and to the background level of that first response (0).
    pub score: f32,
    pub state: TrackState,
}

/// How much to trust a [`Track`]; thresholds on the confidence come from the sidecar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackState {
    Tracking,
    Uncertain,
    Lost,
}

impl TrackState {
    pub fn name(self) -> &'static str {
        match self {
            Self::Tracking => "tracking",
            Self::Uncertain => "uncertain",
            Self::Lost => "lost",
        }
    }
}

/// Where the time of the last [`Tracker::update`] went, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StageTimings {
    /// Search crops and their normalisation.
    pub crop_ms: f64,
    pub encoder_ms: f64,
    /// Cross-correlation, response calibration, peak, box head and box update.
    pub locate_ms: f64,
}

pub struct Tracker {
    model: ModelConfig,
    /// Shared with the other targets' trackers of a [`MultiTracker`].
    encoder: SharedEncoder,
    box_head: Option<BoxHead>,
    /// Reads the maps of full search crops, and of the smaller crops of a target held with confidence.
    locator: PeakLocator,
    confident_locator: PeakLocator,
    target: Option<Target>,
    /// Boxes of other targets held by a [`MultiTracker`] (known distractors): no match is taken inside their
    /// cores. Empty for a tracker on its own.
    others: Vec<BBox>,
    timings: StageTimings,
    /// The encoder's input, reused from frame to frame.
    input: Array4<f32>,
}

/// Where the target is and how it started.
#[derive(Clone, Debug, PartialEq)]
struct TargetState {
    center: (f64, f64),
    size: (f64, f64),
    initial_size: (f64, f64),
}

struct Target {
    state: TargetState,
    /// The first frame's response: background level (median) and the target's match with itself (peak).
    reference: (f32, f32),
    /// Consecutive frames whose match was too weak to trust.
    weak_frames: u32,
    /// Frames since the target was declared lost; 0 while tracking.
    lost_frames: u32,
    /// Where the target was when it was declared lost: the recovery scan grows around it, wherever the box wanders.
    last_seen: TargetState,
    /// Whether the last frame was `tracking`: the next search may use the smaller confident crop.
    confident: bool,
    /// Next tile of the recovery scan, so successive frames cover the whole grid.
    scan_cursor: usize,
    /// Template features, already cut to the correlation window.
    template: Array3<f32>,
    /// Votes on the size from templates at several scales; `None` when the sidecar asks for none.
    scale_vote: Option<ScaleVote>,
    /// The discriminative model learned online; `None` when its weight is 0.
    model: Option<TargetModel>,
    /// Sizes the box after the search placed it; `None` when the sidecar asks for none.
    scale_filter: Option<ScaleFilter>,
    /// The target's colours against its surroundings; `None` when its weight is 0.
    colour: Option<ColourModel>,
}

impl Target {
    /// Whether a weak match moves the box: only when the target or colour model shares the fused map (see
    /// [`Tracker::update`]).
    fn moves_on_weak_match(&self) -> bool {
        self.model.is_some() || self.colour.is_some()
    }
}

/// One frame's maps per crop, on the response grid, in units of the first frame's self-match.
struct Responses {
    siamese: Vec<Array2<f32>>,
    /// The target model's; empty without one.
    learned: Vec<Array2<f32>>,
    fused: Vec<Array2<f32>>,
    /// The crops' features, transformed for the target model's update; empty without one.
    spectra: Vec<Spectrum>,
    /// Cells between the target model's grid edge and these crops' features (0 for full crops).
    margin: f64,
}

impl Responses {
    /// Whether the target model's own peak in map `k` lies within `cells` of `cell` (row, column): the model and
    /// the fused answer agree. Always true without a model.
    fn model_agrees(&self, k: usize, cell: (f64, f64), cells: f64) -> bool {
        let Some(map) = self.learned.get(k) else {
            return true;
        };
        let (mut best, mut value) = ((0, 0), f32::NEG_INFINITY);
        for (index, &v) in map.indexed_iter() {
            if v > value {
                (best, value) = (index, v);
            }
        }
        let (dr, dc) = (best.0 as f64 - cell.0, best.1 as f64 - cell.1);
        (dr * dr + dc * dc).sqrt() <= cells
    }
}

/// The search crops of a frame's step: (centre, side in frame pixels) each, resized to `size` pixels; `search_side`
/// is the nominal side the crops' scale factors multiply.
pub(crate) struct SearchPlan {
    pub(crate) crops: Vec<((f64, f64), f64)>,
    pub(crate) size: u32,
    search_side: f64,
}

/// The crops of a frame's update ([`Tracker::frame_plan`]): the search around the box, and a lost target's scan
/// step, all of the search's size.
pub(crate) struct FramePlan {
    pub(crate) search: SearchPlan,
    scan: Option<ScanStep>,
}

impl FramePlan {
    /// The search's crops, then the scan's (centre, side in frame pixels).
    pub(crate) fn crops(&self) -> Vec<((f64, f64), f64)> {
        let scan = self.scan.iter().flat_map(|step| &step.crops);
        self.search.crops.iter().chain(scan).copied().collect()
    }
}

/// A step of the scan for a lost target: where it searches around (the state the target was last seen in), its
/// tiles (centre, scale) and their crops (centre, side in frame pixels).
struct ScanStep {
    geometry: ScanGeometry,
    around: TargetState,
    tiles: Vec<Tile>,
    crops: Vec<((f64, f64), f64)>,
}

/// Search crops through the encoder: their features and the Siamese correlation map of each.
struct Embedded {
    features: Array4<f32>,
    raw: Vec<Array2<f32>>,
    /// The search crops themselves (8-bit BGR), for the colour model.
    crops: Vec<Mat>,
}

impl Embedded {
    /// Splits off the crops from `at` on (features, maps and images), leaving those before it.
    fn split_off(&mut self, at: usize) -> Embedded {
        let features = self.features.slice(s![at.., .., .., ..]).to_owned();
        self.features = self.features.slice(s![..at, .., .., ..]).to_owned();
        Embedded {
            features,
            raw: self.raw.split_off(at),
            crops: self.crops.split_off(at),
        }
    }
}

impl TargetState {
    /// Applies a motion, keeping the box sane: centre inside the frame, each side within
    /// [min_size_ratio, max_size_ratio] of its initial value and at least min_size_px.
    fn moved(&self, motion: &Motion, frame: (f64, f64), p: &TrackerParams) -> TargetState {
        let clamp_side = |side: f64, initial: f64, scale: f64| {
            (side * scale)
                .clamp(initial * p.min_size_ratio, initial * p.max_size_ratio)
                .max(p.min_size_px)
        };
        TargetState {
            center: (
                (self.center.0 + motion.dx).clamp(0.0, frame.0),
                (self.center.1 + motion.dy).clamp(0.0, frame.1),
            ),
            size: (
                clamp_side(self.size.0, self.initial_size.0, motion.scale.0),
                clamp_side(self.size.1, self.initial_size.1, motion.scale.1),
            ),
            initial_size: self.initial_size,
        }
    }

    fn bbox(&self) -> BBox {
        BBox::from_center(self.center.0, self.center.1, self.size.0, self.size.1)
    }

    /// This box in the pixels of a square crop of `crop_side` frame pixels centred at `crop_centre` and resized to
    /// `crop_size` pixels.
    fn in_crop(&self, crop_centre: (f64, f64), crop_side: f64, crop_size: u32) -> CropBox {
        let scale = crop_size as f64 / crop_side;
        let middle = (crop_size as f64 - 1.0) / 2.0;
        CropBox {
            centre: (
                middle + (self.center.0 - crop_centre.0) * scale,
                middle + (self.center.1 - crop_centre.1) * scale,
            ),
            size: (self.size.0 * scale, self.size.1 * scale),
        }
    }
}

impl Tracker {
    /// Loads the model's encoder; the tracker is ready for [`Tracker::init`].
    pub fn new(model: &ModelConfig, options: &EncoderOptions) -> Result<Self> {
        let encoder = Arc::new(Mutex::new(Encoder::load(model, options)?));
        Self::with_encoder(model, encoder, options)
    }

    /// A tracker that runs `encoder` (loaded for `model`), shared with other trackers.
    pub(crate) fn with_encoder(
        model: &ModelConfig,
        encoder: SharedEncoder,
        options: &EncoderOptions,
    ) -> Result<Self> {
        Ok(Self {
            model: model.clone(),
            encoder,
            box_head: BoxHead::load(model, options)?,
            locator: PeakLocator::new(model, model.search_size),
            confident_locator: PeakLocator::new(model, model.confident_search_size()),
            target: None,
            others: Vec::new(),
            timings: StageTimings::default(),
            input: Array4::zeros((0, 3, 0, 0)),
        })
    }

    pub fn model(&self) -> &ModelConfig {
        &self.model
    }

    pub fn last_timings(&self) -> StageTimings {
        self.timings
    }

    fn state_for(&self, score: f32) -> TrackState {
        let p = &self.model.tracker;
        match score as f64 {
            s if s < p.lost_below => TrackState::Lost,
            s if s < p.uncertain_below => TrackState::Uncertain,
            _ => TrackState::Tracking,
        }
    }

    /// Side of the square template crop around a target of `size`, with context.
    fn template_side(&self, size: (f64, f64)) -> f64 {
        let context = self.model.tracker.context * (size.0 + size.1);
        ((size.0 + context) * (size.1 + context)).sqrt()
    }

    /// Side in frame pixels of the square that becomes a search crop of `crop_size` pixels.
    fn search_side(&self, size: (f64, f64), crop_size: u32) -> f64 {
        self.template_side(size) * crop_size as f64 / self.model.template_size as f64
    }

    /// Template features of the target in `bbox` on `frame`, as if it had grown by each of `growths`: each crop is
    /// cut around the box with context and resized to the template size, and its features are cut to the
    /// correlation window (and masked to the box when the sidecar asks).
    fn templates(&mut self, frame: &Mat, bbox: BBox, growths: &[f64]) -> Result<Vec<Array3<f32>>> {
        let size = (bbox.w, bbox.h);
        let side = self.template_side(size);
        let pad = mean_colour(frame)?;
        let crops = growths
            .iter()
            .map(|g| {
                crop_square(
                    frame,
                    bbox.center(),
                    side / g,
                    self.model.template_size as i32,
                    pad,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let features = embed(&self.encoder, &to_tensor(&crops, &self.model)?)?;
        let k = self.model.template_window();
        let start = (self.model.template_feature_size - k) / 2;
        Ok(growths
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let mut template = features
                    .slice(s![i, .., start..start + k, start..start + k])
                    .to_owned();
                if self.model.tracker.template_box_mask {
                    let cells_per_pixel = self.model.template_feature_size as f64 * g / side;
                    mask_to_box(
                        &mut template,
                        (size.0 * cells_per_pixel, size.1 * cells_per_pixel),
                    );
                }
                match (
                    &self.model.template_metric,
                    self.model.tracker.learned_metric,
                ) {
                    (Some(metric), true) => mix_channels(metric, &template),
                    _ => template,
                }
            })
            .collect())
    }

    /// Starts tracking the target inside `bbox` (0-based pixels) on `frame` (8-bit BGR).
    pub fn init(&mut self, frame: &Mat, bbox: BBox) -> Result<()> {
        check_frame(frame)?;
        let (width, height) = (frame.cols() as f64, frame.rows() as f64);
        if !bbox.is_finite() || bbox.w <= 0.0 || bbox.h <= 0.0 {
            bail!("initial box {bbox} (x,y,w,h) must have finite values and positive size");
        }
        if !bbox.overlaps_frame(width, height) {
            bail!("initial box {bbox} (x,y,w,h) lies outside the {width}x{height} frame");
        }
        let size = (bbox.w, bbox.h);
        // The template as first seen, and with the scale vote those of the target shrunk and grown, in one batch.
        let p = &self.model.tracker;
        let vote = p.scale_vote && p.scale_num == 1;
        let (step, penalty) = (p.scale_step, p.scale_penalty);
        let steps = if vote { p.scale_vote_steps as i32 } else { 0 };
        let growths: Vec<f64> = std::iter::once(1.0)
            .chain((1..=steps).flat_map(|k| [step.powi(-k), step.powi(k)]))
            .collect();
        let templates = self.templates(frame, bbox, &growths)?;
        let template = templates[0].clone();
        let scale_vote = vote.then(|| ScaleVote::new(templates, growths, penalty));
        let first = TargetState {
            center: bbox.center(),
            size,
            initial_size: size,
        };
        self.target = Some(Target {
            state: first.clone(),
            reference: (0.0, 1.0),
            weak_frames: 0,
            lost_frames: 0,
            last_seen: first,
            confident: false,
            scan_cursor: 0,
            template,
            scale_vote,
            model: None,
            scale_filter: None,
            colour: None,
        });
        // How the target matches itself, in its own search region: the scale of the confidence.
        let search_side = self.search_side(size, self.model.search_size);
        let embedded = self.correlate(
            frame,
            &[(bbox.center(), search_side)],
            self.model.search_size,
        )?;
        let mut values: Vec<f32> = embedded.raw[0]
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        ensure!(
            !values.is_empty(),
            "the encoder gave no finite response on the first frame"
        );
        values.sort_by(f32::total_cmp);
        let (floor, peak) = (values[values.len() / 2], values[values.len() - 1]);
        let p = &self.model.tracker;
        let model = (p.target_weight > 0.0).then(|| {
            let centre = (self.model.search_feature_size as f64 - 1.0) / 2.0;
            TargetModel::new(
                target_params(p),
                embedded.features.slice(s![0, .., .., ..]),
                (centre, centre),
                self.size_in_cells(size, search_side, self.model.search_size),
            )
        });
        let scale_filter = match p.scale_filter_scales {
            0 => None,
            scales => Some(ScaleFilter::new(
                ScaleParams {
                    scales,
                    step: p.scale_filter_step,
                    learning_rate: p.scale_filter_learning_rate,
                    patch_area: p.scale_filter_area,
                },
                frame,
                bbox.center(),
                size,
            )?),
        };
        let target = self.target.as_mut().expect("set above");
        let colour = match p.colour_weight > 0.0 {
            true => Some(ColourModel::new(
                &embedded.crops[0],
                target
                    .state
                    .in_crop(bbox.center(), search_side, self.model.search_size),
                p.colour_learning_rate,
            )?),
            false => None,
        };
        target.reference = (floor, peak);
        target.model = model;
        target.scale_filter = scale_filter;
        target.colour = colour;
        Ok(())
    }

    /// A target size (width, height, frame pixels) as (rows, columns) of feature cells in a search crop of
    /// `search_side` frame pixels resized to `crop_size` pixels.
    fn size_in_cells(&self, size: (f64, f64), search_side: f64, crop_size: u32) -> (f64, f64) {
        let cell = search_side / crop_size as f64 * self.model.total_stride as f64;
        (size.1 / cell, size.0 / cell)
    }

    /// Offset of response cell 0 in search feature cells: the template window's half side.
    fn response_offset(&self) -> f64 {
        (self.model.template_window() as f64 - 1.0) / 2.0
    }

    /// A Siamese map in units of the first frame's self-match: 0 at the first response's median, 1 at its peak.
    fn calibrate(&self, raw: &Array2<f32>) -> Array2<f32> {
        let (floor, peak) = self.target.as_ref().expect("initialised").reference;
        let span = (peak - floor).max(f32::EPSILON * peak.abs().max(1.0));
        raw.mapv(|v| (v - floor) / span)
    }

    fn calibrated(&self, raw: &[Array2<f32>]) -> Vec<Array2<f32>> {
        raw.iter().map(|m| self.calibrate(m)).collect()
    }

    /// Each crop's Siamese map and target-model response on the response grid, and their fusion
    /// `(1 - w) * siamese + w * target_model`, all in units of the first frame's self-match; with a colour model,
    /// that fusion is blended with the colour response over windows of the target's size in each crop's pixels
    /// (`windows`), by `colour_weight`.
    fn respond(&self, embedded: &Embedded, windows: &[(f64, f64)]) -> Result<Responses> {
        let mut responses = self.respond_features(embedded);
        let target = self.target.as_ref().expect("initialised");
        if let Some(colour) = &target.colour {
            // Colours that hardly tell the target from its surroundings get a weight to match.
            let w = self.model.tracker.colour_weight as f32 * colour.separation();
            let stride = self.model.total_stride as f64;
            for ((fused, crop), &window) in
                responses.fused.iter_mut().zip(&embedded.crops).zip(windows)
            {
                let colours = colour.respond(crop, window, fused.nrows(), stride)?;
                *fused = &*fused * (1.0 - w) + colours * w;
            }
        }
        Ok(responses)
    }

    /// The Siamese maps and the target model's responses, fused (see [`Tracker::respond`]).
    fn respond_features(&self, embedded: &Embedded) -> Responses {
        let siamese = self.calibrated(&embedded.raw);
        let target = self.target.as_ref().expect("initialised");
        let Some(model) = &target.model else {
            return Responses {
                fused: siamese.clone(),
                siamese,
                learned: Vec::new(),
                spectra: Vec::new(),
                margin: 0.0,
            };
        };
        let w = self.model.tracker.target_weight as f32;
        let (_, _, rows, cols) = embedded.features.dim();
        let margin = model.margin((rows, cols)).0 as f64;
        let offset = self.response_offset() + margin;
        let spectra: Vec<Spectrum> = (0..siamese.len())
            .map(|k| model.spectrum(embedded.features.slice(s![k, .., .., ..])))
            .collect();
        let learned: Vec<Array2<f32>> = spectra
            .iter()
            .zip(&siamese)
            .map(|(spectrum, map)| {
                let response = model.respond(spectrum);
                Array2::from_shape_fn(map.dim(), |(i, j)| {
                    bilinear(response.view(), i as f64 + offset, j as f64 + offset)
                })
            })
            .collect();
        let fused = siamese
            .iter()
            .zip(&learned)
            .map(|(a, b)| a * (1.0 - w) + b * w)
            .collect();
        Responses {
            siamese,
            learned,
            fused,
            spectra,
            margin,
        }
    }

    /// Locates the target in the next frame. While the target is lost the box keeps following the best match
    /// around it (reported `lost`), and a search region grows frame by frame up to a scan of the whole frame, until
    /// the target matches again with `recover_above` confidence, in the scan or where the box is.
    pub fn update(&mut self, frame: &Mat) -> Result<Track> {
        self.update_with_scan(frame, true)
    }

    /// [`Tracker::update`]; `scan`: whether a lost target's recovery scan may take this frame's step (a
    /// [`MultiTracker`] shares the scan between its lost targets).
    pub(crate) fn update_with_scan(&mut self, frame: &Mat, scan: bool) -> Result<Track> {
        let plan = self.frame_plan(frame, scan)?;
        let (features, images, timings) = embed_crops(
            &self.model,
            &self.encoder,
            &mut self.input,
            frame,
            &plan.crops(),
            plan.search.size,
        )?;
        self.update_embedded(frame, &plan, (features, images), timings)
    }

    /// The crops the next frame's update embeds ([`Tracker::update_embedded`]): the search around the box, and
    /// for a lost target this frame's step of the scan when `scan`.
    pub(crate) fn frame_plan(&mut self, frame: &Mat, scan: bool) -> Result<FramePlan> {
        let lost = self.begin(frame)?;
        let search = self.search_plan();
        // The scan's tiles join the search's batch: a lost target is never confident, so its crop is full size.
        ensure!(
            !lost || search.size == self.model.search_size,
            "a lost target searches at the full crop size"
        );
        let scan = (lost && scan).then(|| self.scan_step(frame));
        Ok(FramePlan { search, scan })
    }

    /// The update once the plan's crops ([`FramePlan::crops`]) are embedded, possibly by the caller in a batch
    /// with other trackers' (`timings`: this tracker's share of cutting and embedding them).
    pub(crate) fn update_embedded(
        &mut self,
        frame: &Mat,
        plan: &FramePlan,
        (features, crops): (Array4<f32>, Vec<Mat>),
        timings: StageTimings,
    ) -> Result<Track> {
        let lost = self.begin(frame)?;
        self.timings = timings;
        let embedded = self.correlate_features(features, crops);
        let (next, score) = match lost {
            true => self.follow_lost(frame, plan, embedded)?,
            false => self.follow_embedded(frame, &plan.search, embedded)?,
        };
        Ok(self.conclude(next, score, lost))
    }

    /// Whether the target is lost (a held target's search crops may be embedded by the caller).
    pub(crate) fn is_lost(&self) -> bool {
        self.target.as_ref().is_some_and(|t| t.lost_frames > 0)
    }

    /// The target's box now; `None` before [`Tracker::init`].
    pub(crate) fn bbox(&self) -> Option<BBox> {
        self.target.as_ref().map(|t| t.state.bbox())
    }

    /// The boxes of the other targets held in the same frames, which the next update treats as known
    /// distractors.
    pub(crate) fn set_others(&mut self, others: Vec<BBox>) {
        self.others = others;
    }

    /// Lowers a response map of a crop (centre and side in frame pixels, `crop_size` pixels) to its minimum on
    /// the cells whose place lies in the core (the central half, each way) of another target's box: a target
    /// passing in front of this one is that target, not this one (the other targets are known distractors).
    fn exclude_others(&self, map: &mut Array2<f32>, centre: (f64, f64), side: f64, crop_size: u32) {
        if self.others.is_empty() {
            return;
        }
        let min = map.iter().copied().fold(f32::INFINITY, f32::min);
        let middle = (map.nrows() as f64 - 1.0) / 2.0;
        let cell = self.model.total_stride as f64 * side / crop_size as f64;
        for ((row, col), v) in map.indexed_iter_mut() {
            let x = centre.0 + (col as f64 - middle) * cell;
            let y = centre.1 + (row as f64 - middle) * cell;
            let inside = self.others.iter().any(|b| {
                let (cx, cy) = b.center();
                (x - cx).abs() <= b.w / 4.0 && (y - cy).abs() <= b.h / 4.0
            });
            if inside {
                *v = min;
            }
        }
    }

    /// Checks the frame and that the tracker was initialised, and resets the timings; whether the target is lost.
    fn begin(&mut self, frame: &Mat) -> Result<bool> {
        check_frame(frame)?;
        self.timings = StageTimings::default();
        let Some(target) = &self.target else {
            bail!("Tracker::update called before Tracker::init");
        };
        Ok(target.lost_frames > 0)
    }

    /// The frame's outcome from the new state found (if any) and its score: the box, the weak and lost counts.
    fn conclude(&mut self, next: Option<TargetState>, score: f32, lost: bool) -> Track {
        let p = &self.model.tracker;
        let target = self.target.as_mut().expect("checked by begin");
        let found = lost || score as f64 >= p.lost_below;
        match next {
            Some(next) if found => {
                target.state = next;
                target.lost_frames = 0;
                target.weak_frames = 0;
            }
            None if lost => target.lost_frames = target.lost_frames.saturating_add(1),
            // A weak match still moves the box when the target or colour model shares the fused map: they find a
            // target whose look has drifted away from the template, and a box that waits loses a moving target
            // for good (dev: Football1, Soccer). The template alone, when weak, is wrong more often than not
            // (dev: Surfing06, Couple), so then the box waits. A few weak frames in a row (not one blurred frame)
            // mean the target is gone, and the wide search starts.
            next => {
                if let (Some(next), true) = (next, target.moves_on_weak_match()) {
                    target.state = next;
                }
                target.weak_frames += 1;
                if target.weak_frames >= p.lost_after {
                    target.lost_frames = 1;
                    target.last_seen = target.state.clone();
                }
            }
        }
        let bbox = target.state.bbox();
        let state = match (target.lost_frames, target.weak_frames) {
            (0, 0) => self.state_for(score),
            (0, _) => TrackState::Uncertain,
            _ => TrackState::Lost,
        };
        self.target.as_mut().expect("checked by begin").confident = state == TrackState::Tracking;
        Track { bbox, score, state }
    }

    /// The search crops of the next frame: SiamFC's scales around the last position, of the confident size after
    /// a `tracking` frame.
    pub(crate) fn search_plan(&self) -> SearchPlan {
        let target = self.target.as_ref().expect("initialised");
        let crop_size = match target.confident {
            true => self.model.confident_search_size(),
            false => self.model.search_size,
        };
        let search_side = self.search_side(target.state.size, crop_size);
        let crops = self
            .locator
            .scale_factors()
            .iter()
            .map(|f| (target.state.center, search_side * f))
            .collect();
        SearchPlan {
            crops,
            size: crop_size,
            search_side,
        }
    }

    /// SiamFC's step, a few scales around the last position, once the plan's crops are embedded. `None` for
    /// broken (NaN) output.
    fn follow_embedded(
        &mut self,
        frame: &Mat,
        plan: &SearchPlan,
        embedded: Embedded,
    ) -> Result<(Option<TargetState>, f32)> {
        let target = self.target.as_ref().expect("initialised");
        let (state, confident) = (target.state.clone(), target.confident);
        let (crops, crop_size, search_side) = (&plan.crops, plan.size, plan.search_side);
        let located = Instant::now();
        let windows: Vec<(f64, f64)> = crops
            .iter()
            .map(|&(_, side)| {
                let scale = crop_size as f64 / side;
                (state.size.0 * scale, state.size.1 * scale)
            })
            .collect();
        let mut responses = self.respond(&embedded, &windows)?;
        for (map, &(centre, side)) in responses.fused.iter_mut().zip(crops.iter()) {
            self.exclude_others(map, centre, side, crop_size);
        }
        let locator = match confident {
            true => &self.confident_locator,
            false => &self.locator,
        };
        let mut motion = locator.locate(&embedded.raw, &responses.fused, search_side)?;
        if let Some(m) = motion.as_mut() {
            if let Some((width, height)) = self.head_size_change(&embedded.features, m)? {
                // The head's factors are relative to the box the chosen crop was cut for: the current one
                // times that crop's scale factor.
                let (lr, factor) = (
                    self.model.tracker.size_lr,
                    self.locator.scale_factors()[m.map],
                );
                m.scale = (
                    1.0 - lr + lr * factor * width,
                    1.0 - lr + lr * factor * height,
                );
            }
        }
        let frame_size = (frame.cols() as f64, frame.rows() as f64);
        let p = &self.model.tracker;
        // The confidence is the template's (the anchor's, whose thresholds docs/confidence.md studies) at the
        // chosen place.
        let score = motion.map_or(0.0, |m| {
            confidence(bilinear(
                responses.siamese[m.map].view(),
                m.cell.0,
                m.cell.1,
            ))
        });
        let target = self.target.as_ref().expect("initialised");
        if let Some(m) = motion.as_mut() {
            // The size: the templates' vote where the template is confident (elsewhere a deformed or occluded
            // target matches every scale badly, and the vote would be noise), then the scale filter.
            if let (Some(vote), true) = (&target.scale_vote, score as f64 >= p.uncertain_below) {
                let growth = vote.vote(embedded.features.slice(s![m.map, .., .., ..]), m.cell);
                let damped = 1.0 - p.scale_lr + p.scale_lr * growth;
                m.scale = (m.scale.0 * damped, m.scale.1 * damped);
            }
            if let Some(filter) = &target.scale_filter {
                let placed = (state.center.0 + m.dx, state.center.1 + m.dy);
                let factor = filter.estimate(frame, placed, state.size)?;
                m.scale = (m.scale.0 * factor, m.scale.1 * factor);
            }
        }
        let next = motion.map(|m| state.moved(&m, frame_size, p));
        // A lost target's box teaches nothing, whatever it matches: that is most likely the background (dev:
        // Soccer 0.31 -> 0.34 when the box following a lost face stops teaching the colour model and scale filter).
        let lost = target.lost_frames > 0;
        if let (Some(m), Some(next), false) = (motion, &next, lost) {
            if score as f64 >= p.lost_below {
                let confident = score as f64 >= p.uncertain_below
                    && responses.model_agrees(m.map, m.cell, p.target_agreement);
                self.learn(
                    frame,
                    &embedded,
                    &responses,
                    (&m, next, confident),
                    (search_side, crop_size),
                )?;
            }
        }
        self.timings.locate_ms += located.elapsed().as_secs_f64() * 1000.0;
        Ok((next, score))
    }

    /// Learns from a frame that is not weak, where `next` was found by `motion` in the chosen crop (of the nominal
    /// side in frame pixels, and in pixels). The scale filter and the colour model take in every such frame, as in
    /// DSST and Staple: they must keep up with a target that changes its shape and its surroundings, and what they
    /// can get wrong is the size and a blended map, not the place. The target model's support set takes the crop
    /// only when `confident` (the template's score high and the model's own peak at the place): a template pulled
    /// to a distractor and a model drifting to the background rarely agree on one, and a sample taught at the
    /// wrong place moves the box itself.
    fn learn(
        &mut self,
        frame: &Mat,
        embedded: &Embedded,
        responses: &Responses,
        (motion, next, confident): (&Motion, &TargetState, bool),
        (search_side, crop_size): (f64, u32),
    ) -> Result<()> {
        let crop_side = search_side * self.locator.scale_factors()[motion.map];
        let offset = self.response_offset() + responses.margin;
        let centre = (motion.cell.0 + offset, motion.cell.1 + offset);
        let size = self.size_in_cells(next.size, crop_side, crop_size);
        let target = self.target.as_mut().expect("initialised");
        if let (true, Some(model), Some(spectrum)) = (
            confident,
            target.model.as_mut(),
            responses.spectra.get(motion.map),
        ) {
            model.update(spectrum, centre, size);
        }
        if let Some(filter) = target.scale_filter.as_mut() {
            filter.update(frame, next.center, next.size)?;
        }
        if let Some(colour) = target.colour.as_mut() {
            let found = next.in_crop(target.state.center, crop_side, crop_size);
            colour.update(&embedded.crops[motion.map], found)?;
        }
        Ok(())
    }

    /// A frame of a lost target: the box follows the best match around it, as on a weak frame, teaching nothing,
    /// while the scan looks further. A box that waited where the target was last seen scored lower on dev (car16_1
    /// 0.36 against 0.47, a car that grows tenfold while its template match stays weak; Soccer 0.29 against 0.31;
    /// only MotorRolling higher, by 0.002) and on `train/` (bike1, wakeboard4; none higher); the scan still takes
    /// the target back when it matches better elsewhere. Returns the new state when the target is found again, by
    /// the scan or where the box is. `embedded`: the plan's crops, the box's search and then the scan step's
    /// tiles (when the scan takes this frame's step), through the encoder in one batch.
    fn follow_lost(
        &mut self,
        frame: &Mat,
        plan: &FramePlan,
        mut embedded: Embedded,
    ) -> Result<(Option<TargetState>, f32)> {
        let scanned = plan
            .scan
            .as_ref()
            .map(|step| (embedded.split_off(plan.search.crops.len()), step));
        let (local, local_score) = self.follow_embedded(frame, &plan.search, embedded)?;
        if let Some((scanned, step)) = scanned {
            let (scanned, scan_score) = self.recover(frame, step, scanned)?;
            if scanned.is_some() {
                return Ok((scanned, scan_score));
            }
        }
        if local_score as f64 >= self.model.tracker.recover_above {
            return Ok((local, local_score));
        }
        let target = self.target.as_mut().expect("initialised");
        if let (Some(local), true) = (local, target.moves_on_weak_match()) {
            target.state = local;
        }
        Ok((None, local_score))
    }

    /// The tiles of this frame's step of the search for a lost target (see [`recovery`]), moving the scan on.
    fn scan_step(&mut self, frame: &Mat) -> ScanStep {
        let p = &self.model.tracker;
        let target = self.target.as_ref().expect("initialised");
        let around = target.last_seen.clone();
        let search_side = self.search_side(around.size, self.model.search_size);
        let geometry = ScanGeometry {
            search_side,
            cell: self.model.total_stride as f64 * search_side / self.model.search_size as f64,
            response_size: self.model.response_size(),
        };
        let frame_size = (frame.cols() as f64, frame.rows() as f64);
        let (tiles, cursor) = geometry.tiles(
            around.center,
            frame_size,
            target.lost_frames,
            target.scan_cursor,
            p,
        );
        self.target.as_mut().expect("initialised").scan_cursor = cursor;
        let crops = tiles
            .iter()
            .map(|&(centre, scale)| (centre, search_side * scale))
            .collect();
        ScanStep {
            geometry,
            around,
            tiles,
            crops,
        }
    }

    /// A scan step's tiles, embedded: the new state when a tile matches with `recover_above` confidence.
    fn recover(
        &mut self,
        frame: &Mat,
        step: &ScanStep,
        embedded: Embedded,
    ) -> Result<(Option<TargetState>, f32)> {
        let p = self.model.tracker.clone();
        let frame_size = (frame.cols() as f64, frame.rows() as f64);
        let located = Instant::now();
        // The template proposes: the target model's window is centred on each tile, so it would mute a target
        // found away from a tile's centre.
        let mut maps = self.calibrated(&embedded.raw);
        for (map, &(centre, side)) in maps.iter_mut().zip(&step.crops) {
            self.exclude_others(map, centre, side, self.model.search_size);
        }
        let best = step
            .geometry
            .best_match(&maps, &step.tiles, step.around.center);
        self.timings.locate_ms += located.elapsed().as_secs_f64() * 1000.0;
        let Some(motion) = best else {
            return Ok((None, 0.0));
        };
        let score = confidence(motion.response);
        let candidate = step.around.moved(&motion, frame_size, &p);
        let mut accepted = score as f64 >= p.recover_above;
        if accepted && self.target.as_ref().expect("initialised").model.is_some() {
            // The target model verifies, on a search crop centred on the candidate: its own peak must be there,
            // so a look-alike of the template that the model has learned to reject does not take the target
            // back.
            let check = self.correlate(
                frame,
                &[(
                    candidate.center,
                    self.search_side(candidate.size, self.model.search_size),
                )],
                self.model.search_size,
            )?;
            let centre = (self.model.response_size() as f64 - 1.0) / 2.0;
            accepted =
                self.respond_features(&check)
                    .model_agrees(0, (centre, centre), p.target_agreement);
        }
        let next = accepted.then_some(candidate);
        Ok((next, score))
    }

    /// The box head's width and height change factors at the motion's peak; `None` without a head or when its
    /// output is not a usable factor.
    fn head_size_change(
        &mut self,
        features: &Array4<f32>,
        motion: &Motion,
    ) -> Result<Option<(f64, f64)>> {
        let Some(head) = self.box_head.as_mut() else {
            return Ok(None);
        };
        let template = &self.target.as_ref().expect("initialised").template;
        let changes =
            head.size_changes(template.view(), features.slice(s![motion.map, .., .., ..]))?;
        let (row, col) = motion.cell;
        let width = bilinear(changes.slice(s![0, .., ..]), row, col) as f64;
        let height = bilinear(changes.slice(s![1, .., ..]), row, col) as f64;
        let usable = |v: f64| v.is_finite() && v > 0.0;
        Ok((usable(width) && usable(height)).then_some((width, height)))
    }

    /// Embeds square crops (centre, side in frame pixels), each resized to `size` pixels, in one batch and
    /// correlates the template over each; returns the correlation maps and the search features. Records crop and
    /// encoder time, and starts the locate time.
    fn correlate(
        &mut self,
        frame: &Mat,
        crops: &[((f64, f64), f64)],
        size: u32,
    ) -> Result<Embedded> {
        let (features, images, timings) = embed_crops(
            &self.model,
            &self.encoder,
            &mut self.input,
            frame,
            crops,
            size,
        )?;
        self.timings.crop_ms += timings.crop_ms;
        self.timings.encoder_ms += timings.encoder_ms;
        Ok(self.correlate_features(features, images))
    }

    /// The template correlated over each crop's features (`images`: the crops themselves). Records locate time.
    fn correlate_features(&mut self, features: Array4<f32>, images: Vec<Mat>) -> Embedded {
        let started = Instant::now();
        let template = &self.target.as_ref().expect("initialised").template;
        let raw = (0..images.len())
            .map(|k| xcorr(template.view(), features.slice(s![k, .., .., ..])))
            .collect();
        self.timings.locate_ms += started.elapsed().as_secs_f64() * 1000.0;
        Embedded {
            raw,
            features,
            crops: images,
        }
    }
}

/// Cuts square crops (centre, side in frame pixels) out of `frame`, each resized to `size` pixels, and embeds
/// them in one batch (through `input`, reused): their features, the crops, and the time each step took. The
/// crops are cut on all cores (the encoder's threads are idle meanwhile).
pub(crate) fn embed_crops(
    model: &ModelConfig,
    encoder: &SharedEncoder,
    input: &mut Array4<f32>,
    frame: &Mat,
    crops: &[((f64, f64), f64)],
    size: u32,
) -> Result<(Array4<f32>, Vec<Mat>, StageTimings)> {
    let started = Instant::now();
    let pad = mean_colour(frame)?;
    let side = size as usize;
    let shape = (crops.len(), 3, side, side);
    if input.dim() != shape {
        *input = Array4::zeros(shape);
    }
    let per_core = crops.len().div_ceil(cores()).max(1);
    let parts = input
        .axis_chunks_iter_mut(Axis(0), per_core)
        .zip(crops.chunks(per_core))
        .collect();
    let images = in_parallel(parts, |(mut planes, crops)| {
        crops
            .iter()
            .zip(planes.outer_iter_mut())
            .map(|(&(centre, side), planes)| {
                let image = crop_square(frame, centre, side, size as i32, pad)?;
                fill_planes(&image, model, planes)?;
                Ok(image)
            })
            .collect::<Result<Vec<_>>>()
    })?
    .into_iter()
    .collect::<Result<Vec<_>>>()?
    .concat();
    let cropped = Instant::now();
    let features = embed(encoder, input)?;
    let timings = StageTimings {
        crop_ms: (cropped - started).as_secs_f64() * 1000.0,
        encoder_ms: cropped.elapsed().as_secs_f64() * 1000.0,
        locate_ms: 0.0,
    };
    Ok((features, images, timings))
}

/// The cores to spread work over (per-target work after the encoder, cutting crops).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// Runs `work` on every part at once, a thread each (the first on the calling thread); the results in order.
fn in_parallel<P: Send, R: Send>(parts: Vec<P>, work: impl Fn(P) -> R + Sync) -> Result<Vec<R>> {
    let work = &work;
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return Ok(Vec::new());
    };
    std::thread::scope(|scope| {
        let others: Vec<_> = parts.map(|part| scope.spawn(move || work(part))).collect();
        let mut results = vec![work(first)];
        for other in others {
            results.push(
                other
                    .join()
                    .map_err(|_| anyhow::anyhow!("a worker thread panicked"))?,
            );
        }
        Ok(results)
    })
}

/// Scales each cell of a centred template window [channels, k, k] by the share of it that a centred box of
/// `cells` (width, height, in cells) covers.
fn mask_to_box(template: &mut Array3<f32>, cells: (f64, f64)) {
    let k = template.shape()[1];
    let coverage = |index: usize, extent: f64| {
        let low = index as f64 - k as f64 / 2.0;
        ((low + 1.0).min(extent / 2.0) - low.max(-extent / 2.0)).clamp(0.0, 1.0) as f32
    };
    for row in 0..k {
        for col in 0..k {
            let weight = coverage(row, cells.1) * coverage(col, cells.0);
            template
                .slice_mut(s![.., row, col])
                .mapv_inplace(|v| v * weight);
        }
    }
}

/// `metric x` for each cell's channel vector of `features` [C, H, W] (`metric`: C rows of C).
fn mix_channels(metric: &[Vec<f32>], features: &Array3<f32>) -> Array3<f32> {
    let (channels, rows, cols) = features.dim();
    let flat = features
        .to_shape((channels, rows * cols))
        .expect("a [C, H, W] array reshapes to [C, H x W]");
    let matrix = Array2::from_shape_fn((channels, channels), |(i, j)| metric[i][j]);
    matrix
        .dot(&flat)
        .into_shape_with_order((channels, rows, cols))
        .expect("the product keeps [C, H x W]")
}

/// A fused response value as a confidence in 0..1 (see [`Track::score`]).
fn confidence(fused: f32) -> f32 {
    fused.clamp(0.0, 1.0)
}

fn target_params(p: &TrackerParams) -> TargetModelParams {
    TargetModelParams {
        sigma: p.target_sigma,
        lambda: p.target_lambda,
        memory: p.target_memory,
        learning_rate: p.target_learning_rate,
        first_weight: p.target_first_weight,
        support: p.target_support,
        solve_every: p.target_solve_every,
    }
}

/// Bilinear interpolation of `map` at a sub-cell (row, column), clamped to the map.
fn bilinear(map: ArrayView2<f32>, row: f64, col: f64) -> f32 {
    let (rows, cols) = map.dim();
    let row = row.clamp(0.0, (rows - 1) as f64);
    let col = col.clamp(0.0, (cols - 1) as f64);
    let (r0, c0) = (row.floor() as usize, col.floor() as usize);
    let (r1, c1) = ((r0 + 1).min(rows - 1), (c0 + 1).min(cols - 1));
    let (fr, fc) = ((row - r0 as f64) as f32, (col - c0 as f64) as f32);
    let top = map[[r0, c0]] * (1.0 - fc) + map[[r0, c1]] * fc;
    let bottom = map[[r1, c0]] * (1.0 - fc) + map[[r1, c1]] * fc;
    top * (1.0 - fr) + bottom * fr
}

fn check_frame(frame: &Mat) -> Result<()> {
    ensure!(
        !frame.empty() && frame.typ() == CV_8UC3,
        "frames must be non-empty 8-bit BGR images"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::SIDECAR;

    fn model() -> ModelConfig {
        ModelConfig::from_json(SIDECAR).unwrap()
    }

    #[test]
    fn box_mask_keeps_the_cells_a_thin_box_covers() {
        // A box 3 cells wide and 20 tall in an 8x8 window: the two central columns whole, a half of each
        // neighbour, nothing beyond; every row (the box is taller than the window).
        let mut template = Array3::<f32>::ones((2, 8, 8));
        mask_to_box(&mut template, (3.0, 20.0));
        let expected = [0.0, 0.0, 0.5, 1.0, 1.0, 0.5, 0.0, 0.0];
        for ((_, row, col), &v) in template.indexed_iter() {
            assert_eq!(v, expected[col], "cell ({row}, {col})");
        }
        // A box that fills the window changes nothing.
        let mut full = Array3::<f32>::ones((1, 8, 8));
        mask_to_box(&mut full, (8.0, 8.0));
        assert!(full.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn the_metric_mixes_channels_row_by_output_channel() {
        // Output channel 0 takes input channel 1 and output 1 the sum of both: row c is output channel c.
        let features = Array3::from_shape_fn((2, 1, 2), |(c, _, j)| (10 * c + j) as f32);
        let mixed = mix_channels(&[vec![0.0, 1.0], vec![1.0, 1.0]], &features);
        assert_eq!(mixed.as_slice().unwrap(), &[10.0, 11.0, 10.0, 12.0]);
    }

    #[test]
    fn box_stays_sane() {
        let p = model().tracker;
        let state = TargetState {
            center: (50.0, 50.0),
            size: (20.0, 10.0),
            initial_size: (20.0, 10.0),
        };
        let grow = Motion {
            dx: 1e6,
            dy: -1e6,
            scale: (1.5, 1.5),
            response: 1.0,
            map: 0,
            cell: (0.0, 0.0),
        };
        let mut s = state.clone();
        for _ in 0..20 {
            s = s.moved(&grow, (100.0, 80.0), &p);
        }
        assert_eq!(s.center, (100.0, 0.0), "centre kept in the frame");
        assert_eq!(s.size, (100.0, 50.0), "at most 5x the initial size");
        let shrink = Motion {
            dx: 0.0,
            dy: 0.0,
            scale: (0.5, 0.5),
            response: 1.0,
            map: 0,
            cell: (0.0, 0.0),
        };
        for _ in 0..20 {
            s = s.moved(&shrink, (100.0, 80.0), &p);
        }
        assert_eq!(s.size, (4.0, 4.0), "at least 0.2x and min_size_px");
    }

    #[test]
    fn parallel_work_keeps_the_parts_order_and_reports_a_panic() {
        let parts: Vec<Vec<u32>> = vec![vec![1, 2], vec![3], vec![4, 5]];
        let sums = in_parallel(parts, |part| part.iter().sum::<u32>()).unwrap();
        assert_eq!(sums, [3, 3, 9]);
        assert!(in_parallel(Vec::<u32>::new(), |v| v).unwrap().is_empty());
        let err = in_parallel(vec![1, 2], |v: u32| {
            assert!(v != 2, "part 2 fails");
            v
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "a worker thread panicked");
    }

    #[test]
    fn bilinear_interpolates_between_cells_and_clamps_outside() {
        let map = Array2::from_shape_vec((2, 3), vec![0.0, 1.0, 2.0, 10.0, 11.0, 12.0]).unwrap();
        assert_eq!(bilinear(map.view(), 0.5, 0.5), 5.5);
        assert_eq!(bilinear(map.view(), 1.0, 2.0), 12.0);
        assert_eq!(bilinear(map.view(), -3.0, 9.0), 2.0);
    }
}
