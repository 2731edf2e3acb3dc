//! The SiamFC tracker: embed the target once, then each frame correlate it over a few scaled search crops and move
//! the box to the peak of the response.

use crate::bbox::BBox;
use crate::config::{ModelConfig, TrackerParams};
use crate::crop::{crop_square, mean_colour, to_tensor};
use crate::model::{BoxHead, Encoder, EncoderOptions};
use crate::xcorr::xcorr;
use anyhow::{bail, ensure, Result};
use ndarray::{s, Array2, Array3, Array4, ArrayView2};
use opencv::core::{Mat, Size, CV_32F, CV_8UC3};
use opencv::imgproc;
use opencv::prelude::*;
use serde::{Deserialize, Serialize};
use std::time::Instant;

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
    encoder: Encoder,
    box_head: Option<BoxHead>,
    locator: PeakLocator,
    target: Option<Target>,
    timings: StageTimings,
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
    /// Consecutive frames whose match was too weak to move the box.
    weak_frames: u32,
    /// Frames since the target was declared lost; 0 while tracking.
    lost_frames: u32,
    /// Next tile of the recovery scan, so successive frames cover the whole grid.
    scan_cursor: usize,
    /// Template features, already cut to the correlation window.
    template: Array3<f32>,
}

/// The box change one frame's responses call for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Motion {
    /// Displacement of the centre, frame pixels.
    pub dx: f64,
    pub dy: f64,
    /// Damped size factors of width and height.
    pub scale: (f64, f64),
    /// Raw correlation at the chosen peak.
    pub response: f32,
    /// Which correlation map the peak is in, and where: (row, column) in response cells, sub-cell.
    pub map: usize,
    pub cell: (f64, f64),
}

fn hann(n: usize) -> Vec<f32> {
    if n == 1 {
        return vec![1.0];
    }
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f32::consts::PI * i as f32 / (n - 1) as f32).cos())
        .collect()
}

/// The encoder-free half of SiamFC: from per-scale correlation maps to a box motion.
pub struct PeakLocator {
    params: TrackerParams,
    total_stride: f64,
    search_size: f64,
    scale_factors: Vec<f64>,
    /// Hann window over the upsampled response, summing to 1.
    window: Array2<f32>,
}

impl PeakLocator {
    pub fn new(model: &ModelConfig) -> Self {
        let params = model.tracker.clone();
        let half = (params.scale_num / 2) as i32;
        let scale_factors = (-half..=half).map(|k| params.scale_step.powi(k)).collect();
        let side = model.response_size() * params.response_up;
        let h = hann(side);
        let total: f32 = h.iter().sum::<f32>().powi(2);
        let window = Array2::from_shape_fn((side, side), |(i, j)| h[i] * h[j] / total);
        Self {
            params,
            total_stride: model.total_stride as f64,
            search_size: model.search_size as f64,
            scale_factors,
            window,
        }
    }

    /// Search-crop sides relative to the nominal one, smallest first.
    pub fn scale_factors(&self) -> &[f64] {
        &self.scale_factors
    }

    /// Picks the best scale (non-central ones penalised) and the windowed peak in it. `raw[k]` is the correlation
    /// map of scale k; `search_side` the nominal search crop side in frame pixels. `None` when the maps hold NaN.
    pub fn locate(&self, raw: &[Array2<f32>], search_side: f64) -> Result<Option<Motion>> {
        let p = &self.params;
        if raw.iter().flatten().any(|v| v.is_nan()) {
            return Ok(None);
        }
        let max = |m: &Array2<f32>| m.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        // The multiplicative scale penalty needs non-negative responses: shift by the lowest response of all
        // scales (learned correlations can be negative, where a penalty < 1 would favour a scale).
        let floor = raw.iter().flatten().copied().fold(f32::INFINITY, f32::min);
        let centre = self.scale_factors.len() / 2;
        let penalised = |k: usize| {
            let shifted = max(&raw[k]) - floor;
            if k == centre {
                shifted
            } else {
                shifted * p.scale_penalty as f32
            }
        };
        let best = (0..raw.len())
            .max_by(|&a, &b| penalised(a).total_cmp(&penalised(b)))
            .unwrap_or(centre);
        // Only the chosen scale is upsampled for the sub-cell peak.
        let (row, col, response) = self.windowed_peak(&self.upsample(&raw[best])?)?;
        let up_side = self.window.nrows() as f64;
        let factor = self.scale_factors[best];
        let to_frame =
            self.total_stride / p.response_up as f64 * search_side * factor / self.search_size;
        let damped = 1.0 - p.scale_lr + p.scale_lr * factor;
        // The bicubic resize puts upsampled pixel u at source coordinate (u + 0.5) / up - 0.5.
        let to_cell = |u: usize| (u as f64 + 0.5) / p.response_up as f64 - 0.5;
        Ok(Some(Motion {
            dx: (col as f64 - (up_side - 1.0) / 2.0) * to_frame,
            dy: (row as f64 - (up_side - 1.0) / 2.0) * to_frame,
            scale: (damped, damped),
            response,
            map: best,
            cell: (to_cell(row), to_cell(col)),
        }))
    }

    /// Upsamples a correlation map (bicubic) for sub-cell peak localisation.
    fn upsample(&self, raw: &Array2<f32>) -> Result<Mat> {
        let side = raw.nrows() as i32;
        let values = raw.as_standard_layout();
        let small =
            Mat::new_rows_cols_with_data(side, side, values.as_slice().expect("standard layout"))?;
        let up = (side as usize * self.params.response_up) as i32;
        let mut upsampled = Mat::default();
        imgproc::resize(
            &small,
            &mut upsampled,
            Size::new(up, up),
            0.0,
            0.0,
            imgproc::INTER_CUBIC,
        )?;
        Ok(upsampled)
    }

    /// SiamFC's normalisation and cosine window; returns the peak's (row, column) and its raw response.
    fn windowed_peak(&self, response: &Mat) -> Result<(usize, usize, f32)> {
        ensure!(response.typ() == CV_32F && response.is_continuous());
        let values = response.data_typed::<f32>()?;
        let min = values.iter().copied().fold(f32::INFINITY, f32::min);
        let sum: f32 = values.iter().map(|v| v - min).sum();
        let influence = self.params.window_influence as f32;
        let norm = if sum > 0.0 { 1.0 / sum } else { 0.0 };
        let (best, _) = values
            .iter()
            .zip(self.window.iter())
            .map(|(&v, &w)| (1.0 - influence) * (v - min) * norm + influence * w)
            .enumerate()
            .fold(
                (0, f32::NEG_INFINITY),
                |acc, (i, v)| if v > acc.1 { (i, v) } else { acc },
            );
        let side = self.window.ncols();
        Ok((best / side, best % side, values[best]))
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
}

impl Tracker {
    /// Loads the model's encoder; the tracker is ready for [`Tracker::init`].
    pub fn new(model: &ModelConfig, options: &EncoderOptions) -> Result<Self> {
        Ok(Self {
            model: model.clone(),
            encoder: Encoder::load(model, options)?,
            box_head: BoxHead::load(model, options)?,
            locator: PeakLocator::new(model),
            target: None,
            timings: StageTimings::default(),
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

    fn search_side(&self, size: (f64, f64)) -> f64 {
        self.template_side(size) * self.model.search_size as f64 / self.model.template_size as f64
    }

    /// Starts tracking the target inside `bbox` (0-based pixels) on `frame` (8-bit BGR).
    pub fn init(&mut self, frame: &Mat, bbox: BBox) -> Result<()> {
        check_frame(frame)?;
        let (width, height) = (frame.cols() as f64, frame.rows() as f64);
        if !bbox.is_finite() || bbox.w <= 0.0 || bbox.h <= 0.0 {
            bail!("initial box {bbox:?} must have finite values and positive size");
        }
        if !bbox.overlaps_frame(width, height) {
            bail!("initial box {bbox:?} lies outside the {width}x{height} frame");
        }
        let size = (bbox.w, bbox.h);
        let crop = crop_square(
            frame,
            bbox.center(),
            self.template_side(size),
            self.model.template_size as i32,
            mean_colour(frame)?,
        )?;
        let features = self.encoder.embed(&to_tensor(&[crop], &self.model)?)?;
        let k = self.model.template_window();
        let start = (self.model.template_feature_size - k) / 2;
        let template = features
            .slice(s![0, .., start..start + k, start..start + k])
            .to_owned();
        self.target = Some(Target {
            state: TargetState {
                center: bbox.center(),
                size,
                initial_size: size,
            },
            reference: (0.0, 1.0),
            weak_frames: 0,
            lost_frames: 0,
            scan_cursor: 0,
            template,
        });
        // How the target matches itself, in its own search region: the scale of the confidence.
        let (raw, _) = self.correlate(frame, &[(bbox.center(), self.search_side(size))])?;
        let mut values: Vec<f32> = raw[0].iter().copied().filter(|v| v.is_finite()).collect();
        ensure!(
            !values.is_empty(),
            "the encoder gave no finite response on the first frame"
        );
        values.sort_by(f32::total_cmp);
        let (floor, peak) = (values[values.len() / 2], values[values.len() - 1]);
        self.target.as_mut().expect("set above").reference = (floor, peak);
        Ok(())
    }

    /// Confidence in 0..1 of a raw response, relative to the first frame's (see [`Track::score`]).
    fn confidence(&self, response: f32) -> f32 {
        let (floor, peak) = self.target.as_ref().expect("initialised").reference;
        let span = (peak - floor).max(f32::EPSILON * peak.abs().max(1.0));
        ((response - floor) / span).clamp(0.0, 1.0)
    }

    /// Locates the target in the next frame. While the target is lost the box stays where it was last seen and
    /// the search region grows frame by frame up to a scan of the whole frame, until the template matches again.
    pub fn update(&mut self, frame: &Mat) -> Result<Track> {
        check_frame(frame)?;
        let Some(target) = &self.target else {
            bail!("Tracker::update called before Tracker::init");
        };
        let lost = target.lost_frames > 0;
        let (next, score) = if lost {
            self.recover(frame)?
        } else {
            self.follow(frame)?
        };
        let p = &self.model.tracker;
        let target = self.target.as_mut().expect("checked above");
        let found = lost || score as f64 >= p.lost_below;
        match next.filter(|_| found) {
            Some(next) => {
                target.state = next;
                target.lost_frames = 0;
                target.weak_frames = 0;
            }
            // A match too weak to trust moves nothing: the box waits where the target was last seen. A few weak
            // frames in a row (not one blurred frame) mean the target is gone, and the wide search starts.
            None if lost => target.lost_frames = target.lost_frames.saturating_add(1),
            None => {
                target.weak_frames += 1;
                if target.weak_frames >= p.lost_after {
                    target.lost_frames = 1;
                }
            }
        }
        let bbox = target.state.bbox();
        let state = match (target.lost_frames, target.weak_frames) {
            (0, 0) => self.state_for(score),
            (0, _) => TrackState::Uncertain,
            _ => TrackState::Lost,
        };
        Ok(Track { bbox, score, state })
    }

    /// SiamFC's step: a few scales around the last position. `None` for broken (NaN) output.
    fn follow(&mut self, frame: &Mat) -> Result<(Option<TargetState>, f32)> {
        let state = self.target.as_ref().expect("initialised").state.clone();
        let search_side = self.search_side(state.size);
        let crops: Vec<_> = self
            .locator
            .scale_factors()
            .iter()
            .map(|f| (state.center, search_side * f))
            .collect();
        let (raw, features) = self.correlate(frame, &crops)?;
        let located = Instant::now();
        let mut motion = self.locator.locate(&raw, search_side)?;
        if let Some(m) = motion.as_mut() {
            if let Some((width, height)) = self.head_size_change(&features, m)? {
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
        let next = motion.map(|m| state.moved(&m, frame_size, &self.model.tracker));
        self.timings.locate_ms += located.elapsed().as_secs_f64() * 1000.0;
        Ok((next, motion.map_or(0.0, |m| self.confidence(m.response))))
    }

    /// One step of the search for a lost target: a region around the last position, growing with each lost frame
    /// until it covers the frame, is tiled with search crops at the target's scale times each of `scan_scales`;
    /// at most `max_scan_tiles` are embedded per frame, taking turns. Returns the new state when a tile matches
    /// with `recover_above` confidence.
    fn recover(&mut self, frame: &Mat) -> Result<(Option<TargetState>, f32)> {
        let p = self.model.tracker.clone();
        let target = self.target.as_ref().expect("initialised");
        let state = target.state.clone();
        let search_side = self.search_side(state.size);
        let (width, height) = (frame.cols() as f64, frame.rows() as f64);
        let region =
            (search_side * p.search_growth.powi(target.lost_frames as i32)).min(width.max(height));
        // Tiles for every scan scale (the target may come back nearer or farther), each grid spaced by the span
        // of target centres one tile sees.
        let mut grid: Vec<((f64, f64), f64)> = Vec::new();
        for &scale in &p.scan_scales {
            let cell = self.model.total_stride as f64 * search_side * scale
                / self.model.search_size as f64;
            let span = (self.model.response_size() as f64 - 1.0).max(1.0) * cell;
            let axis = |centre: f64, extent: f64| -> Vec<f64> {
                let side = region.min(extent);
                let start = (centre - side / 2.0).clamp(0.0, extent - side);
                let n = (side / span).ceil().max(1.0) as usize;
                (0..n)
                    .map(|i| start + side * (i as f64 + 0.5) / n as f64)
                    .collect()
            };
            let (xs, ys) = (axis(state.center.0, width), axis(state.center.1, height));
            grid.extend(
                ys.iter()
                    .flat_map(|&y| xs.iter().map(move |&x| ((x, y), scale))),
            );
        }
        let count = grid.len().min(p.max_scan_tiles.max(1));
        let first = target.scan_cursor % grid.len();
        let tiles: Vec<((f64, f64), f64)> =
            (0..count).map(|i| grid[(first + i) % grid.len()]).collect();
        self.target.as_mut().expect("initialised").scan_cursor = first + count;

        let crops: Vec<_> = tiles
            .iter()
            .map(|&(centre, scale)| (centre, search_side * scale))
            .collect();
        let (raw, _) = self.correlate(frame, &crops)?;
        let located = Instant::now();
        let mut best: Option<(f32, Motion)> = None;
        for (tile, (map, &(centre, scale))) in raw.iter().zip(&tiles).enumerate() {
            let cell = self.model.total_stride as f64 * search_side * scale
                / self.model.search_size as f64;
            let half = (map.nrows() as f64 - 1.0) / 2.0;
            for ((i, j), &response) in map.indexed_iter() {
                let score = self.confidence(response);
                if best.is_none_or(|(b, _)| score > b) {
                    let motion = Motion {
                        dx: centre.0 + (j as f64 - half) * cell - state.center.0,
                        dy: centre.1 + (i as f64 - half) * cell - state.center.1,
                        scale: (scale, scale),
                        response,
                        map: tile,
                        cell: (i as f64, j as f64),
                    };
                    best = Some((score, motion));
                }
            }
        }
        self.timings.locate_ms += located.elapsed().as_secs_f64() * 1000.0;
        let Some((score, motion)) = best.filter(|(s, _)| s.is_finite()) else {
            return Ok((None, 0.0));
        };
        let next =
            (score as f64 >= p.recover_above).then(|| state.moved(&motion, (width, height), &p));
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

    /// Embeds square crops (centre, side in frame pixels) in one batch and correlates the template over each;
    /// returns the correlation maps and the search features. Records crop and encoder time, and starts the
    /// locate time.
    fn correlate(
        &mut self,
        frame: &Mat,
        crops: &[((f64, f64), f64)],
    ) -> Result<(Vec<Array2<f32>>, Array4<f32>)> {
        let started = Instant::now();
        let pad = mean_colour(frame)?;
        let out = self.model.search_size as i32;
        let images = crops
            .iter()
            .map(|&(centre, side)| crop_square(frame, centre, side, out, pad))
            .collect::<Result<Vec<_>>>()?;
        let batch = to_tensor(&images, &self.model)?;
        let cropped = Instant::now();
        let features = self.encoder.embed(&batch)?;
        let encoded = Instant::now();
        let template = &self.target.as_ref().expect("initialised").template;
        let raw = (0..images.len())
            .map(|k| xcorr(template.view(), features.slice(s![k, .., .., ..])))
            .collect();
        self.timings = StageTimings {
            crop_ms: (cropped - started).as_secs_f64() * 1000.0,
            encoder_ms: (encoded - cropped).as_secs_f64() * 1000.0,
            locate_ms: encoded.elapsed().as_secs_f64() * 1000.0,
        };
        Ok((raw, features))
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

    /// A 17x17 correlation map with one peak at (row, col) over a flat background, in raw (pre-sigmoid) units.
    fn peaked(row: usize, col: usize, height: f32) -> Array2<f32> {
        let mut map = Array2::from_elem((17, 17), -2000.0);
        map[[row, col]] = height;
        map
    }

    #[test]
    fn peak_offset_maps_to_frame_pixels() {
        let locator = PeakLocator::new(&model());
        // Peak 2 cells right and 1 up of centre, on the central scale only.
        let raw = vec![peaked(8, 8, 0.0), peaked(7, 10, 3000.0), peaked(8, 8, 0.0)];
        let motion = locator.locate(&raw, 510.0).unwrap().unwrap();
        // One response cell = total stride 8 search pixels; the search crop is 510 frame px for 255 crop px.
        assert!((motion.dx - 2.0 * 8.0 * 2.0).abs() < 2.0, "{motion:?}");
        assert!((motion.dy + 8.0 * 2.0).abs() < 2.0, "{motion:?}");
        assert_eq!(motion.scale, (1.0, 1.0));
        assert!((motion.response - 3000.0).abs() < 300.0, "{motion:?}");
        assert_eq!(motion.map, 1);
        assert!(
            (motion.cell.0 - 7.0).abs() < 0.1 && (motion.cell.1 - 10.0).abs() < 0.1,
            "{motion:?}"
        );
    }

    #[test]
    fn larger_scale_wins_only_beyond_the_penalty_and_is_damped() {
        let m = model();
        let locator = PeakLocator::new(&m);
        let p = &m.tracker;
        let strong = vec![peaked(8, 8, 0.0), peaked(8, 8, 0.0), peaked(8, 8, 2000.0)];
        let motion = locator.locate(&strong, 255.0).unwrap().unwrap();
        let damped = 1.0 - p.scale_lr + p.scale_lr * p.scale_step;
        assert_eq!(motion.scale, (damped, damped));
        // The upsampled map has an even side, so "no motion" is half an upsampled cell (0.26 px here) off.
        assert!(motion.dx.abs() < 0.3 && motion.dy.abs() < 0.3, "{motion:?}");
        // Equal peaks: the penalty keeps the current size.
        let equal = vec![
            peaked(8, 8, 0.0),
            peaked(8, 8, 1000.0),
            peaked(8, 8, 1000.0),
        ];
        assert_eq!(
            locator.locate(&equal, 255.0).unwrap().unwrap().scale,
            (1.0, 1.0)
        );
    }

    #[test]
    fn nan_maps_give_no_motion() {
        let locator = PeakLocator::new(&model());
        let raw = vec![peaked(8, 8, f32::NAN), peaked(8, 8, 0.0), peaked(8, 8, 0.0)];
        assert!(locator.locate(&raw, 255.0).unwrap().is_none());
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
    fn bilinear_interpolates_between_cells_and_clamps_outside() {
        let map = Array2::from_shape_vec((2, 3), vec![0.0, 1.0, 2.0, 10.0, 11.0, 12.0]).unwrap();
        assert_eq!(bilinear(map.view(), 0.5, 0.5), 5.5);
        assert_eq!(bilinear(map.view(), 1.0, 2.0), 12.0);
        assert_eq!(bilinear(map.view(), -3.0, 9.0), 2.0);
    }
}
