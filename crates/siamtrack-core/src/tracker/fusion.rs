//! The fused response: the Siamese map (calibrated to the first frame's self-match), the online target model's
//! response and the colour model's, blended into the one map whose peak places the box. Another held target is a
//! known distractor: inside its box, a cell is muted where that target's template matches clearly better than this
//! one's (a target passing in front of this one is that target, not this one), and kept where this one's matches
//! as well (this target in front of the other, or inside its box).

use super::target::Target;
use super::target_model::Spectrum;
use super::{bilinear, Embedded};
use crate::bbox::BBox;
use crate::config::ModelConfig;
use crate::xcorr::xcorr_at;
use ndarray::{s, Array2, Array3, ArrayView3};

/// A square search crop: centre and side in frame pixels, resized to `size` pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Crop {
    pub(crate) centre: (f64, f64),
    pub(crate) side: f64,
    pub(crate) size: u32,
}

/// One frame's maps per crop, on the response grid, in units of the first frame's self-match.
pub(crate) struct Responses {
    pub(crate) siamese: Vec<Array2<f32>>,
    /// The target model's; empty without one.
    pub(crate) learned: Vec<Array2<f32>>,
    pub(crate) fused: Vec<Array2<f32>>,
    /// The crops' features, transformed for the target model's update; empty without one.
    pub(crate) spectra: Vec<Spectrum>,
    /// Cells between the target model's grid edge and these crops' features (0 for full crops).
    pub(crate) margin: f64,
}

impl Responses {
    /// Whether the target model's own peak in map `k` lies within `cells` of `cell` (row, column): the model and
    /// the fused answer agree. Always true without a model.
    pub(crate) fn model_agrees(&self, k: usize, cell: (f64, f64), cells: f64) -> bool {
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

/// Which maps take part in a fusion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Maps {
    /// The template's, the target model's and the colour model's: the search around the box.
    All,
    /// The template's and the target model's: the target model's check of a candidate found by the scan.
    TemplateAndTargetModel,
    /// The template's alone: the scan's tiles (the target model's window is centred on each tile, so it would mute
    /// a target found away from a tile's centre).
    Template,
}

/// Another target held in the same frames: where it is and what it looks like.
#[derive(Clone)]
pub(crate) struct Other {
    pub(crate) bbox: BBox,
    pub(crate) template: Array3<f32>,
    /// Its first frame's response (see [`Target::reference`]), the units of its template's match.
    pub(crate) reference: (f32, f32),
}

/// Fuses a target's maps, as its parameters weigh them.
pub(crate) struct Fusion<'a> {
    pub(crate) target: &'a Target,
    pub(crate) model: &'a ModelConfig,
    /// The other held targets, known distractors.
    pub(crate) others: &'a [Other],
}

impl Fusion<'_> {
    /// Offset of response cell 0 in search feature cells: the template window's half side.
    pub(crate) fn response_offset(&self) -> f64 {
        (self.model.template_window() as f64 - 1.0) / 2.0
    }

    /// A Siamese map in units of the first frame's self-match: 0 at the first response's median, 1 at its peak.
    fn calibrate(&self, raw: &Array2<f32>) -> Array2<f32> {
        raw.mapv(calibration(self.target.reference))
    }

    /// Each crop's maps and their fusion: `(1 - w) * siamese + w * target_model`, then with a colour model blended
    /// with the colour response over windows of the target's size (by the colour weight times how well the
    /// target's colours stood out on the first frame); cells inside another held target's box muted where its
    /// template matches clearly better (see [`Fusion::exclude_others`]).
    pub(crate) fn respond(&self, embedded: &Embedded, crops: &[Crop], maps: Maps) -> Responses {
        let siamese: Vec<Array2<f32>> = embedded.raw.iter().map(|m| self.calibrate(m)).collect();
        let mut responses = match (&self.target.model, maps) {
            (Some(model), Maps::All | Maps::TemplateAndTargetModel) => {
                let w = self.model.tracker.target_model.weight as f32;
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
            _ => Responses {
                fused: siamese.clone(),
                siamese,
                learned: Vec::new(),
                spectra: Vec::new(),
                margin: 0.0,
            },
        };
        if let (Some(colour), Maps::All) = (&self.target.colour, maps) {
            let w = self.model.tracker.colour.weight as f32 * colour.separation();
            let stride = self.model.total_stride as f64;
            for ((fused, image), crop) in responses.fused.iter_mut().zip(&embedded.crops).zip(crops)
            {
                let window = self
                    .target
                    .state
                    .in_crop(crop.centre, crop.side, crop.size)
                    .size;
                let colours = colour.respond(image, window, fused.nrows(), stride);
                *fused = &*fused * (1.0 - w) + colours * w;
            }
        }
        if maps != Maps::TemplateAndTargetModel {
            for (k, (map, crop)) in responses.fused.iter_mut().zip(crops).enumerate() {
                let features = embedded.features.slice(s![k, .., .., ..]);
                self.exclude_others(map, crop, &responses.siamese[k], features);
            }
        }
        responses
    }

    /// Lowers a crop's map to its minimum on the cells whose place lies inside another held target's box and
    /// where that target's template, correlated over the crop's `features`, matches better than this one's (`own`,
    /// calibrated) by more than `others.margin`, each in units of its own first-frame self-match. What looks more
    /// like the other target there is the other target; what looks as much like this one is this one, in front of
    /// the other or inside its box. A target of quite another size matches poorly at this one's scale, so it mutes
    /// little.
    fn exclude_others(
        &self,
        map: &mut Array2<f32>,
        crop: &Crop,
        own: &Array2<f32>,
        features: ArrayView3<f32>,
    ) {
        if self.others.is_empty() {
            return;
        }
        let min = map.iter().copied().fold(f32::INFINITY, f32::min);
        let middle = (map.nrows() as f64 - 1.0) / 2.0;
        let cell = self.model.total_stride as f64 * crop.side / crop.size as f64;
        let margin = self.model.tracker.others.margin as f32;
        for other in self.others {
            let (cx, cy) = other.bbox.center();
            let inside: Vec<(usize, usize)> = (0..map.nrows())
                .flat_map(|row| (0..map.ncols()).map(move |col| (row, col)))
                .filter(|&(row, col)| {
                    let x = crop.centre.0 + (col as f64 - middle) * cell;
                    let y = crop.centre.1 + (row as f64 - middle) * cell;
                    (x - cx).abs() <= other.bbox.w / 2.0 && (y - cy).abs() <= other.bbox.h / 2.0
                })
                .collect();
            if inside.is_empty() {
                continue;
            }
            // Its template is correlated at those cells only: a box usually covers few of the crop's.
            let calibrate = calibration(other.reference);
            let theirs = xcorr_at(other.template.view(), features, &inside);
            for (cell, raw) in inside.into_iter().zip(theirs) {
                if calibrate(raw) - own[cell] > margin {
                    map[cell] = min;
                }
            }
        }
    }
}

/// How a raw template match reads in units of a first frame's self-match `reference` (its response's median and
/// peak): 0 at the median, 1 at the peak.
fn calibration((floor, peak): (f32, f32)) -> impl Fn(f32) -> f32 {
    let span = (peak - floor).max(f32::EPSILON * peak.abs().max(1.0));
    move |v| (v - floor) / span
}
