//! The tracker: embed the target once (its template cells weighted by how much of them the first box covers),
//! then each frame: locate it (correlate the template over the search crop, the Siamese response, the anchor
//! that cannot drift), fuse that with the responses of an online target model and a colour model, size the box,
//! learn from the frame, and conclude how sure the frame is; a lost target is looked for by a growing scan.

mod colour;
mod fusion;
mod multi;
mod recovery;
mod scale;
mod siamese;
mod sizing;
mod target;
mod target_model;

pub use multi::MultiTracker;

use colour::ColourModel;
use fusion::{Crop, Fusion, Maps, Other, Responses};
use recovery::{ScanGeometry, Tile};
use scale::ScaleFilter;
use siamese::{Motion, PeakLocator, ScaleVote};
use target::{Target, TargetState};
use target_model::TargetModel;

use crate::bbox::BBox;
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::image::{crop_square, fill_planes, mean_colour, pad_pixel, BgrImage, ImageView};
use crate::model::{Encoder, EncoderOptions};
use crate::xcorr::xcorr;
use ndarray::{s, Array2, Array3, Array4, ArrayView2, Axis};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One encoder for several trackers (see [`MultiTracker`]); each run holds the lock.
pub(crate) type SharedEncoder = Arc<Mutex<Encoder>>;

/// The tracker's answer for one frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Track {
    /// The target's box, 0-based pixels.
    pub bbox: BBox,
    /// Confidence of the match in 0..1: the template's response at the box, between the first frame's background
    /// level (0) and the target's match with itself on the first frame (1), so it means the same for any model and
    /// target.
    pub score: f32,
    /// How much to trust the box.
    pub state: TrackState,
}

/// How much to trust a [`Track`]; the thresholds are the parameters' `confidence` group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrackState {
    /// The score is at least `uncertain_below`: the target is held.
    Tracking,
    /// A lower score, or a weak frame (below `lost_below`) among the last ones: the box follows the best match
    /// but learns nothing.
    Uncertain,
    /// `lost_after` weak frames in a row: the target is gone; the box follows the best match around it while a
    /// growing scan looks for the target over the frame.
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

/// Where the time of the last update went, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StageTimings {
    /// Search crops and their normalisation.
    pub crop_ms: f64,
    pub encoder_ms: f64,
    /// Correlation, fusion, peak, size, learning and the conclusion.
    pub locate_ms: f64,
}

/// A single-object tracker: [`Tracker::init`] on the first frame with the target's box, then
/// [`Tracker::update`] on each next frame.
///
/// ```
/// use siamtrack_core::{BBox, ChannelOrder, EncoderOptions, ImageView, ModelConfig, Tracker};
/// # fn main() -> Result<(), siamtrack_core::Error> {
/// let mut tracker = Tracker::new(&ModelConfig::shipped(), &EncoderOptions::default())?;
/// let pixels = vec![128u8; 320 * 240 * 3];
/// let frame = ImageView::new(&pixels, 320, 240, ChannelOrder::Bgr)?;
/// tracker.init(&frame, BBox::new(100.0, 80.0, 40.0, 30.0))?;
/// let track = tracker.update(&frame)?;
/// assert!(track.bbox.w > 0.0);
/// # Ok(()) }
/// ```
pub struct Tracker {
    model: ModelConfig,
    /// Shared with the other targets' trackers of a [`MultiTracker`].
    encoder: SharedEncoder,
    /// Reads the maps of full search crops, and of the smaller crops of a target held with confidence.
    locator: PeakLocator,
    confident_locator: PeakLocator,
    target: Option<Target>,
    /// Other targets held by a [`MultiTracker`] (known distractors). Empty for a tracker on its own.
    others: Vec<Other>,
    timings: StageTimings,
    /// The encoder's input, reused from frame to frame.
    input: Array4<f32>,
}

/// The search crops of a frame's step, all of `size` pixels; `search_side` is the nominal side in frame pixels
/// that the crops' scale factors multiply.
pub(crate) struct SearchPlan {
    pub(crate) crops: Vec<Crop>,
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
    /// The search's crops, then the scan's.
    pub(crate) fn crops(&self) -> Vec<Crop> {
        let scan = self.scan.iter().flat_map(|step| &step.crops);
        self.search.crops.iter().chain(scan).copied().collect()
    }
}

/// A step of the scan for a lost target: where it searches around (the state the target was last seen in), its
/// tiles (centre, scale) and their crops.
struct ScanStep {
    geometry: ScanGeometry,
    around: TargetState,
    tiles: Vec<Tile>,
    crops: Vec<Crop>,
}

/// Crops through the encoder: their features [N, C, H, W] and the crops themselves (for the colour model).
pub(crate) struct Embedding {
    pub(crate) features: Array4<f32>,
    pub(crate) crops: Vec<BgrImage>,
}

/// Crops through the encoder with the template's correlation map over each.
pub(crate) struct Embedded {
    features: Array4<f32>,
    raw: Vec<Array2<f32>>,
    crops: Vec<BgrImage>,
}

impl Embedded {
    /// Splits off the crops from `at` on, leaving those before it.
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

/// Where the search around the box found the target, and how well the template matched there.
struct Located {
    motion: Motion,
    responses: Responses,
    score: f32,
}

/// What a frame found: the box the search calls for (if any) and its score, and a lost target's box found again
/// by the scan with its score.
struct Finding {
    next: Option<TargetState>,
    score: f32,
    recovered: Option<(TargetState, f32)>,
}

impl Tracker {
    /// Loads the model's encoder; the tracker is ready for [`Tracker::init`].
    pub fn new(model: &ModelConfig, options: &EncoderOptions) -> Result<Self> {
        let encoder = Arc::new(Mutex::new(Encoder::load(model, options)?));
        Ok(Self::with_encoder(model, encoder))
    }

    /// A tracker that runs `encoder` (loaded for `model`), shared with other trackers.
    pub(crate) fn with_encoder(model: &ModelConfig, encoder: SharedEncoder) -> Self {
        Self {
            model: model.clone(),
            encoder,
            locator: PeakLocator::new(model, model.search_size),
            confident_locator: PeakLocator::new(model, model.confident_search_size()),
            target: None,
            others: Vec::new(),
            timings: StageTimings::default(),
            input: Array4::zeros((0, 3, 0, 0)),
        }
    }

    pub fn model(&self) -> &ModelConfig {
        &self.model
    }

    /// Where the time of the last update went.
    pub fn last_timings(&self) -> StageTimings {
        self.timings
    }

    /// Starts tracking the target inside `bbox` (0-based pixels, top-left corner) on `frame`.
    pub fn init(&mut self, frame: &ImageView, bbox: BBox) -> Result<()> {
        check_initial_box(bbox, frame)?;
        self.target = None;
        let size = (bbox.w, bbox.h);
        // The template as first seen, and with the scale vote those of the target shrunk and grown, in one batch.
        let p = &self.model.tracker;
        let vote = p.scale.vote && p.scale.search_scales == 1;
        let steps = if vote { p.scale.vote_steps as i32 } else { 0 };
        let step = p.scale.step;
        let growths: Vec<f64> = std::iter::once(1.0)
            .chain((1..=steps).flat_map(|k| [step.powi(-k), step.powi(k)]))
            .collect();
        let penalty = p.scale.penalty;
        let mut templates = self.templates(frame, bbox, &growths)?;
        let template = templates[0].clone();
        let scale_vote = vote.then(|| ScaleVote::new(templates.split_off(0), growths, penalty));
        // How the target matches itself, in its own search region: the scale of the confidence.
        let search_side = self.search_side(size, self.model.search_size);
        let crop = Crop {
            centre: bbox.center(),
            side: search_side,
            size: self.model.search_size,
        };
        let (embedding, _) = self.embed(frame, &[crop])?;
        let reference = self_match(&xcorr(
            template.view(),
            embedding.features.slice(s![0, .., .., ..]),
        ))?;
        let first = TargetState {
            center: bbox.center(),
            size,
            initial_size: size,
        };
        let p = &self.model.tracker;
        let model = (p.target_model.weight > 0.0).then(|| {
            let centre = (self.model.search_feature_size as f64 - 1.0) / 2.0;
            TargetModel::new(
                p.target_model,
                embedding.features.slice(s![0, .., .., ..]),
                (centre, centre),
                self.size_in_cells(size, search_side, self.model.search_size),
            )
        });
        let scale_filter = match p.scale.filter.scales {
            0 => None,
            _ => Some(ScaleFilter::new(
                p.scale.filter,
                frame,
                bbox.center(),
                size,
            )?),
        };
        let colour = (p.colour.weight > 0.0).then(|| {
            let found = first.in_crop(bbox.center(), search_side, self.model.search_size);
            ColourModel::new(&embedding.crops[0], found, p.colour.learning_rate)
        });
        self.target = Some(Target {
            state: first.clone(),
            reference,
            weak_frames: 0,
            lost_frames: 0,
            last_seen: first,
            confident: false,
            scan_cursor: 0,
            template,
            scale_vote,
            model,
            scale_filter,
            colour,
        });
        Ok(())
    }

    /// Moves the target's box to `centre` (frame pixels, the box's centre), keeping its size: a correction from
    /// outside (a detector, a person, or an evaluation that measures the size estimate on its own). The next update
    /// searches around it.
    pub fn recentre(&mut self, centre: (f64, f64)) -> Result<()> {
        if !(centre.0.is_finite() && centre.1.is_finite()) {
            return Err(Error::Box(format!("the centre {centre:?} is not finite")));
        }
        self.target()?;
        self.target_mut().state.center = centre;
        Ok(())
    }

    /// Locates the target in the next frame. While the target is lost the box keeps following the best match
    /// around it (reported `lost`), and a search region grows frame by frame up to a scan of the whole frame, until
    /// the target matches again with `recover_above` confidence, in the scan or where the box is.
    pub fn update(&mut self, frame: &ImageView) -> Result<Track> {
        self.update_with_scan(frame, true)
    }

    /// [`Tracker::update`]; `scan`: whether a lost target's recovery scan may take this frame's step (a
    /// [`MultiTracker`] shares the scan between its lost targets).
    pub(crate) fn update_with_scan(&mut self, frame: &ImageView, scan: bool) -> Result<Track> {
        let plan = self.frame_plan(frame, scan)?;
        let (embedding, timings) = self.embed(frame, &plan.crops())?;
        self.update_embedded(frame, &plan, embedding, timings)
    }

    /// The crops the next frame's update embeds ([`Tracker::update_embedded`]): the search around the box, and
    /// for a lost target this frame's step of the scan when `scan`.
    pub(crate) fn frame_plan(&mut self, frame: &ImageView, scan: bool) -> Result<FramePlan> {
        let lost = self.target()?.is_lost();
        let search = self.search_plan()?;
        let scan = (lost && scan).then(|| self.scan_step(frame));
        Ok(FramePlan { search, scan })
    }

    /// The update once the plan's crops are embedded, possibly by the caller in a batch with other trackers'
    /// (`timings`: this tracker's share of cutting and embedding them): locate, fuse, size, learn, conclude.
    pub(crate) fn update_embedded(
        &mut self,
        frame: &ImageView,
        plan: &FramePlan,
        embedding: Embedding,
        timings: StageTimings,
    ) -> Result<Track> {
        self.timings = timings;
        let started = Instant::now();
        let lost = self.target()?.is_lost();
        let mut search = self.correlate(embedding);
        let scanned = plan
            .scan
            .as_ref()
            .map(|step| (search.split_off(plan.search.crops.len()), step));
        // Locate and fuse: the peak of the fused maps of the search around the box.
        let located = self.locate(&plan.search, &search);
        let score = located.as_ref().map_or(0.0, |l| l.score);
        // Size: the box the peak and the size proposals call for.
        let next = match &located {
            Some(l) => Some(self.size(frame, l, &search)?),
            None => None,
        };
        // Learn: from a held target's frame that is not weak. A lost target's box teaches nothing, whatever it
        // matches: that is most likely the background.
        if let (Some(located), Some(next), false) = (&located, &next, lost) {
            if score as f64 >= self.model.tracker.confidence.lost_below {
                self.learn(frame, &plan.search, &search, located, next)?;
            }
        }
        // A lost target: the scan's step may find it again.
        let recovered = match scanned {
            Some((tiles, step)) => self.recover(frame, step, tiles)?,
            None => None,
        };
        let verify =
            self.timings.crop_ms + self.timings.encoder_ms - timings.crop_ms - timings.encoder_ms;
        self.timings.locate_ms = started.elapsed().as_secs_f64() * 1000.0 - verify;
        Ok(self.conclude(Finding {
            next,
            score,
            recovered,
        }))
    }

    /// Whether the target is lost (a held target's search crops may be embedded by the caller).
    pub(crate) fn is_lost(&self) -> bool {
        self.target.as_ref().is_some_and(Target::is_lost)
    }

    /// This target as another target's known distractor: its box and template; `None` before [`Tracker::init`].
    pub(crate) fn as_other(&self) -> Option<Other> {
        self.target.as_ref().map(|t| Other {
            bbox: t.state.bbox(),
            template: t.template.clone(),
            reference: t.reference,
        })
    }

    /// The other targets held in the same frames, which the next update treats as known distractors.
    pub(crate) fn set_others(&mut self, others: Vec<Other>) {
        self.others = others;
    }

    fn target(&self) -> Result<&Target> {
        self.target.as_ref().ok_or_else(|| {
            Error::NotInitialised(
                "the tracker was updated before it was initialised with a box".into(),
            )
        })
    }

    fn target_mut(&mut self) -> &mut Target {
        self.target.as_mut().expect("checked by frame_plan or init")
    }

    fn fusion(&self) -> Fusion<'_> {
        Fusion {
            target: self.target.as_ref().expect("checked by frame_plan or init"),
            model: &self.model,
            others: &self.others,
        }
    }

    /// The search crops of the next frame: SiamFC's scales around the last position, of the confident size after
    /// a `tracking` frame.
    pub(crate) fn search_plan(&self) -> Result<SearchPlan> {
        let target = self.target()?;
        let size = match target.confident {
            true => self.model.confident_search_size(),
            false => self.model.search_size,
        };
        let search_side = self.search_side(target.state.size, size);
        let crops = self
            .locator
            .scale_factors()
            .iter()
            .map(|f| Crop {
                centre: target.state.center,
                side: search_side * f,
                size,
            })
            .collect();
        Ok(SearchPlan {
            crops,
            size,
            search_side,
        })
    }

    /// Locate and fuse: the fused maps of the search crops and the peak the locator reads off them (SiamFC's scale
    /// choice, cosine window and sub-cell peak); the score is the template's at the chosen place. `None` for
    /// broken (NaN) output.
    fn locate(&self, plan: &SearchPlan, search: &Embedded) -> Option<Located> {
        let responses = self.fusion().respond(search, &plan.crops, Maps::All);
        let locator = match self.target.as_ref()?.confident {
            true => &self.confident_locator,
            false => &self.locator,
        };
        let motion = locator.locate(&search.raw, &responses.fused, plan.search_side)?;
        let score = confidence(bilinear(
            responses.siamese[motion.map].view(),
            motion.cell.0,
            motion.cell.1,
        ));
        Some(Located {
            motion,
            responses,
            score,
        })
    }

    /// Size: the box the located peak calls for (see [`sizing`]).
    fn size(&self, frame: &ImageView, located: &Located, search: &Embedded) -> Result<TargetState> {
        let p = &self.model.tracker;
        sizing::size_located(
            self.target.as_ref().expect("checked by frame_plan"),
            frame,
            &located.motion,
            search.features.slice(s![located.motion.map, .., .., ..]),
            located.score,
            (&p.scale, &p.confidence),
        )
    }

    /// Learns from a frame that is not weak, where `next` was found. The scale filter and the colour model take in
    /// every such frame, as in DSST and Staple: they must keep up with a target that changes its shape and its
    /// surroundings, and what they can get wrong is the size and a blended map, not the place. The target model's
    /// support set takes the crop only when the frame is confident (the template's score at least
    /// `uncertain_below` and the model's own peak at the place): a template pulled to a distractor and a model
    /// drifting to the background rarely agree on one, and a sample taught at the wrong place moves the box itself.
    fn learn(
        &mut self,
        frame: &ImageView,
        plan: &SearchPlan,
        search: &Embedded,
        located: &Located,
        next: &TargetState,
    ) -> Result<()> {
        let p = &self.model.tracker;
        let motion = &located.motion;
        let confident = located.score as f64 >= p.confidence.uncertain_below
            && located
                .responses
                .model_agrees(motion.map, motion.cell, p.target_model.agreement);
        let crop = plan.crops[motion.map];
        let offset = self.fusion().response_offset() + located.responses.margin;
        let centre = (motion.cell.0 + offset, motion.cell.1 + offset);
        let size = self.size_in_cells(next.size, crop.side, crop.size);
        let target = self.target_mut();
        if let (true, Some(model), Some(spectrum)) = (
            confident,
            target.model.as_mut(),
            located.responses.spectra.get(motion.map),
        ) {
            model.update(spectrum, centre, size);
        }
        if let Some(filter) = target.scale_filter.as_mut() {
            filter.update(frame, next.center, next.size)?;
        }
        if let Some(colour) = target.colour.as_mut() {
            let found = next.in_crop(crop.centre, crop.side, crop.size);
            colour.update(&search.crops[motion.map], found);
        }
        Ok(())
    }

    /// Conclude: the frame's outcome from what it found. A held target moves to a box found with at least
    /// `lost_below`; a lost one to a box the scan found, or one found where the box is with `recover_above`. A
    /// weak frame still moves the box when the target or colour model shares the fused map (see
    /// [`Target::moves_on_weak_match`]); `lost_after` weak frames in a row (not one blurred frame) mean the target
    /// is gone, and the scan starts around where it was last seen.
    fn conclude(&mut self, finding: Finding) -> Track {
        let c = &self.model.tracker.confidence;
        let recover_above = self.model.tracker.recovery.recover_above;
        let (uncertain_below, lost_below, lost_after) =
            (c.uncertain_below, c.lost_below, c.lost_after);
        let target = self.target_mut();
        let lost = target.is_lost();
        let recovered = finding.recovered.is_some();
        let (next, score) = match finding.recovered {
            Some((state, score)) => (Some(state), score),
            None => (finding.next, finding.score),
        };
        let threshold = if lost { recover_above } else { lost_below };
        let found = recovered || score as f64 >= threshold;
        match next {
            Some(next) if found => {
                target.state = next;
                target.lost_frames = 0;
                target.weak_frames = 0;
            }
            next => {
                if let (Some(next), true) = (next, target.moves_on_weak_match()) {
                    target.state = next;
                }
                if lost {
                    target.lost_frames = target.lost_frames.saturating_add(1);
                } else {
                    target.weak_frames += 1;
                    if target.weak_frames >= lost_after {
                        target.lost_frames = 1;
                        target.last_seen = target.state.clone();
                    }
                }
            }
        }
        let state = match (target.lost_frames, target.weak_frames) {
            (0, 0) if (score as f64) < lost_below => TrackState::Lost,
            (0, 0) if (score as f64) < uncertain_below => TrackState::Uncertain,
            (0, 0) => TrackState::Tracking,
            (0, _) => TrackState::Uncertain,
            _ => TrackState::Lost,
        };
        target.confident = state == TrackState::Tracking;
        Track {
            bbox: target.state.bbox(),
            score,
            state,
        }
    }

    /// The tiles of this frame's step of the scan for a lost target (see [`recovery`]), moving the scan on.
    fn scan_step(&mut self, frame: &ImageView) -> ScanStep {
        let target = self.target.as_ref().expect("checked by frame_plan");
        let around = target.last_seen.clone();
        let (lost_frames, cursor) = (target.lost_frames, target.scan_cursor);
        let size = self.model.search_size;
        let search_side = self.search_side(around.size, size);
        let geometry = ScanGeometry {
            search_side,
            cell: self.model.total_stride as f64 * search_side / size as f64,
            response_size: self.model.response_size(),
        };
        let frame_size = (frame.width() as f64, frame.height() as f64);
        let (tiles, cursor) = geometry.tiles(
            around.center,
            frame_size,
            lost_frames,
            cursor,
            &self.model.tracker.recovery,
        );
        self.target_mut().scan_cursor = cursor;
        let crops = tiles
            .iter()
            .map(|&(centre, scale)| Crop {
                centre,
                side: search_side * scale,
                size,
            })
            .collect();
        ScanStep {
            geometry,
            around,
            tiles,
            crops,
        }
    }

    /// A scan step's tiles, embedded: the box and score of the target found again, when a tile's template match
    /// reaches `recover_above` and the target model (if any) confirms it on a search crop centred on the
    /// candidate: its own peak must be there, so a look-alike the model has learned to reject does not take the
    /// target back.
    fn recover(
        &mut self,
        frame: &ImageView,
        step: &ScanStep,
        tiles: Embedded,
    ) -> Result<Option<(TargetState, f32)>> {
        let maps = self
            .fusion()
            .respond(&tiles, &step.crops, Maps::Template)
            .fused;
        let Some(motion) = step
            .geometry
            .best_match(&maps, &step.tiles, step.around.center)
        else {
            return Ok(None);
        };
        let score = confidence(motion.response);
        let candidate =
            sizing::size_recovered(&step.around, &motion, frame, &self.model.tracker.scale);
        let mut accepted = score as f64 >= self.model.tracker.recovery.recover_above;
        if accepted && self.target_mut().model.is_some() {
            let size = self.model.search_size;
            let crop = Crop {
                centre: candidate.center,
                side: self.search_side(candidate.size, size),
                size,
            };
            let (embedding, timings) = self.embed(frame, &[crop])?;
            self.timings.crop_ms += timings.crop_ms;
            self.timings.encoder_ms += timings.encoder_ms;
            let check = self.correlate(embedding);
            let centre = (self.model.response_size() as f64 - 1.0) / 2.0;
            accepted = self
                .fusion()
                .respond(&check, &[crop], Maps::TemplateAndTargetModel)
                .model_agrees(
                    0,
                    (centre, centre),
                    self.model.tracker.target_model.agreement,
                );
        }
        Ok(accepted.then_some((candidate, score)))
    }

    /// Side of the square template crop around a target of `size`, with context.
    fn template_side(&self, size: (f64, f64)) -> f64 {
        let context = self.model.tracker.search.context * (size.0 + size.1);
        ((size.0 + context) * (size.1 + context)).sqrt()
    }

    /// Side in frame pixels of the square that becomes a search crop of `crop_size` pixels.
    fn search_side(&self, size: (f64, f64), crop_size: u32) -> f64 {
        self.template_side(size) * crop_size as f64 / self.model.template_size as f64
    }

    /// A target size (width, height, frame pixels) as (rows, columns) of feature cells in a search crop of
    /// `search_side` frame pixels resized to `crop_size` pixels.
    fn size_in_cells(&self, size: (f64, f64), search_side: f64, crop_size: u32) -> (f64, f64) {
        let cell = search_side / crop_size as f64 * self.model.total_stride as f64;
        (size.1 / cell, size.0 / cell)
    }

    /// Template features of the target in `bbox` on `frame`, as if it had grown by each of `growths`: each crop is
    /// cut around the box with context and resized to the template size, and its features are cut to the
    /// correlation window (masked to the box and mixed by the learned metric when the parameters ask).
    fn templates(
        &mut self,
        frame: &ImageView,
        bbox: BBox,
        growths: &[f64],
    ) -> Result<Vec<Array3<f32>>> {
        let size = (bbox.w, bbox.h);
        let side = self.template_side(size);
        let crops: Vec<Crop> = growths
            .iter()
            .map(|g| Crop {
                centre: bbox.center(),
                side: side / g,
                size: self.model.template_size,
            })
            .collect();
        let (embedding, _) = self.embed(frame, &crops)?;
        let k = self.model.template_window();
        let start = (self.model.template_feature_size - k) / 2;
        let search = &self.model.tracker.search;
        Ok(growths
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let mut template = embedding
                    .features
                    .slice(s![i, .., start..start + k, start..start + k])
                    .to_owned();
                if search.template_box_mask {
                    let cells_per_pixel = self.model.template_feature_size as f64 * g / side;
                    mask_to_box(
                        &mut template,
                        (size.0 * cells_per_pixel, size.1 * cells_per_pixel),
                    );
                }
                match (&self.model.template_metric, search.learned_metric) {
                    (Some(metric), true) => mix_channels(metric, &template),
                    _ => template,
                }
            })
            .collect())
    }

    /// Cuts and embeds `crops` (all of one size) through this tracker's reused input.
    fn embed(&mut self, frame: &ImageView, crops: &[Crop]) -> Result<(Embedding, StageTimings)> {
        embed_crops(&self.model, &self.encoder, &mut self.input, frame, crops)
    }

    /// The template correlated over each embedded crop.
    fn correlate(&self, embedding: Embedding) -> Embedded {
        let template = &self
            .target
            .as_ref()
            .expect("checked by frame_plan or init")
            .template;
        let raw = (0..embedding.crops.len())
            .map(|k| xcorr(template.view(), embedding.features.slice(s![k, .., .., ..])))
            .collect();
        Embedded {
            features: embedding.features,
            raw,
            crops: embedding.crops,
        }
    }
}

/// Cuts `crops` (all of one size) out of `frame` and embeds them in one batch (through `input`, reused): their
/// features and images, and the time each step took. The crops are cut on all cores (the encoder's threads are
/// idle meanwhile).
pub(crate) fn embed_crops(
    model: &ModelConfig,
    encoder: &SharedEncoder,
    input: &mut Array4<f32>,
    frame: &ImageView,
    crops: &[Crop],
) -> Result<(Embedding, StageTimings)> {
    let started = Instant::now();
    let pad = pad_pixel(mean_colour(frame));
    let side = crops.first().map_or(0, |c| c.size as usize);
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
            .map(|(crop, planes)| {
                let image = crop_square(frame, crop.centre, crop.side, crop.size as usize, pad)?;
                fill_planes(&image, model.channel_order, model.mean, model.std, planes)?;
                Ok(image)
            })
            .collect::<Result<Vec<_>>>()
    })?
    .into_iter()
    .collect::<Result<Vec<_>>>()?
    .concat();
    let cropped = Instant::now();
    let features = encoder
        .lock()
        .map_err(|_| Error::Runtime("the encoder's lock was poisoned by a panic".into()))?
        .embed(input)?;
    let timings = StageTimings {
        crop_ms: (cropped - started).as_secs_f64() * 1000.0,
        encoder_ms: cropped.elapsed().as_secs_f64() * 1000.0,
        locate_ms: 0.0,
    };
    let embedding = Embedding {
        features,
        crops: images,
    };
    Ok((embedding, timings))
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
                    .map_err(|_| Error::Runtime("a worker thread panicked".into()))?,
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

/// A box a target can start from: finite, of positive size, overlapping the frame.
fn check_initial_box(bbox: BBox, frame: &ImageView) -> Result<()> {
    let (width, height) = (frame.width() as f64, frame.height() as f64);
    if !bbox.is_finite() || bbox.w <= 0.0 || bbox.h <= 0.0 {
        return Err(Error::Box(format!(
            "initial box {bbox} (x,y,w,h) must have finite values and positive size"
        )));
    }
    if !bbox.overlaps_frame(width, height) {
        return Err(Error::Box(format!(
            "initial box {bbox} (x,y,w,h) lies outside the {width}x{height} frame"
        )));
    }
    Ok(())
}

/// How the target matches itself on the first frame (the first response `raw`): its background level (the
/// median) and its peak, the 0 and 1 of the confidence.
fn self_match(raw: &Array2<f32>) -> Result<(f32, f32)> {
    let mut values: Vec<f32> = raw.iter().copied().filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return Err(Error::Model(
            "the encoder gave no finite response on the first frame".into(),
        ));
    }
    values.sort_by(f32::total_cmp);
    Ok((values[values.len() / 2], values[values.len() - 1]))
}

/// A fused response value as a confidence in 0..1 (see [`Track::score`]).
fn confidence(fused: f32) -> f32 {
    fused.clamp(0.0, 1.0)
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

#[cfg(test)]
mod tests {
    use super::*;

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
