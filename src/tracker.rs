//! The SiamFC tracker: embed the target once, then each frame correlate it over a few scaled search crops and move
//! the box to the peak of the response.

use crate::bbox::BBox;
use crate::config::{ModelConfig, TrackerParams};
use crate::crop::{crop_square, mean_colour, to_tensor};
use crate::model::{Encoder, EncoderOptions};
use crate::xcorr::xcorr;
use anyhow::{bail, ensure, Result};
use ndarray::{s, Array2, Array3};
use opencv::core::{Mat, Size, CV_32F, CV_8UC3};
use opencv::imgproc;
use opencv::prelude::*;

/// The tracker's answer for one frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Track {
    pub bbox: BBox,
    /// Confidence of the match in 0..1 (sigmoid of the calibrated response peak).
    pub score: f32,
}

pub struct Tracker {
    model: ModelConfig,
    encoder: Encoder,
    locator: PeakLocator,
    target: Option<Target>,
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
    /// Template features, already cut to the correlation window.
    template: Array3<f32>,
}

/// The box change one frame's responses call for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Motion {
    /// Displacement of the centre, frame pixels.
    pub dx: f64,
    pub dy: f64,
    /// Damped size factor.
    pub scale: f64,
    /// Confidence at the chosen peak, 0..1.
    pub score: f32,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
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
        let confidences = raw
            .iter()
            .map(|r| self.upsampled_confidence(r))
            .collect::<Result<Vec<_>>>()?;
        let centre = self.scale_factors.len() / 2;
        let penalised = |k: usize| {
            let peak = confidences[k].1;
            if k == centre {
                peak
            } else {
                peak * p.scale_penalty as f32
            }
        };
        if (0..confidences.len()).any(|k| penalised(k).is_nan()) {
            return Ok(None);
        }
        let best = (0..confidences.len())
            .max_by(|&a, &b| penalised(a).total_cmp(&penalised(b)))
            .unwrap_or(centre);
        let (row, col, score) = self.windowed_peak(&confidences[best].0)?;
        let up_side = self.window.nrows() as f64;
        let factor = self.scale_factors[best];
        let to_frame =
            self.total_stride / p.response_up as f64 * search_side * factor / self.search_size;
        Ok(Some(Motion {
            dx: (col as f64 - (up_side - 1.0) / 2.0) * to_frame,
            dy: (row as f64 - (up_side - 1.0) / 2.0) * to_frame,
            scale: 1.0 - p.scale_lr + p.scale_lr * factor,
            score,
        }))
    }

    /// Calibrates a correlation map to confidence and upsamples it; returns it with its peak.
    fn upsampled_confidence(&self, raw: &Array2<f32>) -> Result<(Mat, f32)> {
        let p = &self.params;
        let side = raw.nrows() as i32;
        let calibrated: Vec<f32> = raw
            .iter()
            .map(|&r| sigmoid(p.response_scale * r as f64 + p.response_bias) as f32)
            .collect();
        let peak = if calibrated.iter().any(|v| v.is_nan()) {
            f32::NAN
        } else {
            calibrated.iter().copied().fold(f32::NEG_INFINITY, f32::max)
        };
        let small = Mat::new_rows_cols_with_data(side, side, &calibrated)?;
        let up = (side as usize * p.response_up) as i32;
        let mut confidence = Mat::default();
        imgproc::resize(
            &small,
            &mut confidence,
            Size::new(up, up),
            0.0,
            0.0,
            imgproc::INTER_CUBIC,
        )?;
        Ok((confidence, peak))
    }

    /// SiamFC's normalisation and cosine window; returns the peak's (row, column) and its confidence.
    fn windowed_peak(&self, confidence: &Mat) -> Result<(usize, usize, f32)> {
        ensure!(confidence.typ() == CV_32F && confidence.is_continuous());
        let values = confidence.data_typed::<f32>()?;
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
        Ok((best / side, best % side, values[best].clamp(0.0, 1.0)))
    }
}

impl TargetState {
    /// Applies a motion, keeping the box sane: centre inside the frame, each side within
    /// [min_size_ratio, max_size_ratio] of its initial value and at least min_size_px.
    fn moved(&self, motion: &Motion, frame: (f64, f64), p: &TrackerParams) -> TargetState {
        let clamp_side = |side: f64, initial: f64| {
            (side * motion.scale)
                .clamp(initial * p.min_size_ratio, initial * p.max_size_ratio)
                .max(p.min_size_px)
        };
        TargetState {
            center: (
                (self.center.0 + motion.dx).clamp(0.0, frame.0),
                (self.center.1 + motion.dy).clamp(0.0, frame.1),
            ),
            size: (
                clamp_side(self.size.0, self.initial_size.0),
                clamp_side(self.size.1, self.initial_size.1),
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
            locator: PeakLocator::new(model),
            target: None,
        })
    }

    pub fn model(&self) -> &ModelConfig {
        &self.model
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
            template,
        });
        Ok(())
    }

    /// Locates the target in the next frame.
    pub fn update(&mut self, frame: &Mat) -> Result<Track> {
        check_frame(frame)?;
        let Some(target) = &self.target else {
            bail!("Tracker::update called before Tracker::init");
        };
        let state = &target.state;
        let search_side = self.search_side(state.size);
        let pad = mean_colour(frame)?;
        let crops = self
            .locator
            .scale_factors()
            .iter()
            .map(|f| {
                crop_square(
                    frame,
                    state.center,
                    search_side * f,
                    self.model.search_size as i32,
                    pad,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let features = self.encoder.embed(&to_tensor(&crops, &self.model)?)?;
        let raw: Vec<Array2<f32>> = (0..crops.len())
            .map(|k| xcorr(target.template.view(), features.slice(s![k, .., .., ..])))
            .collect();
        let Some(motion) = self.locator.locate(&raw, search_side)? else {
            // Broken output (NaN features): keep the previous box rather than poison the state.
            return Ok(Track {
                bbox: state.bbox(),
                score: 0.0,
            });
        };
        let frame_size = (frame.cols() as f64, frame.rows() as f64);
        let next = state.moved(&motion, frame_size, &self.model.tracker);
        let bbox = next.bbox();
        self.target.as_mut().expect("checked above").state = next;
        Ok(Track {
            bbox,
            score: motion.score,
        })
    }
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
        assert_eq!(motion.scale, 1.0);
        assert!(motion.score > 0.9);
    }

    #[test]
    fn larger_scale_wins_only_beyond_the_penalty_and_is_damped() {
        let m = model();
        let locator = PeakLocator::new(&m);
        let p = &m.tracker;
        let strong = vec![peaked(8, 8, 0.0), peaked(8, 8, 0.0), peaked(8, 8, 2000.0)];
        let motion = locator.locate(&strong, 255.0).unwrap().unwrap();
        assert!((motion.scale - (1.0 - p.scale_lr + p.scale_lr * p.scale_step)).abs() < 1e-9);
        // The upsampled map has an even side, so "no motion" is half an upsampled cell (0.26 px here) off.
        assert!(motion.dx.abs() < 0.3 && motion.dy.abs() < 0.3, "{motion:?}");
        // Equal peaks: the penalty keeps the current size.
        let equal = vec![
            peaked(8, 8, 0.0),
            peaked(8, 8, 1000.0),
            peaked(8, 8, 1000.0),
        ];
        assert_eq!(locator.locate(&equal, 255.0).unwrap().unwrap().scale, 1.0);
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
            scale: 1.5,
            score: 1.0,
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
            scale: 0.5,
            score: 1.0,
        };
        for _ in 0..20 {
            s = s.moved(&shrink, (100.0, 80.0), &p);
        }
        assert_eq!(s.size, (4.0, 4.0), "at least 0.2x and min_size_px");
    }
}
