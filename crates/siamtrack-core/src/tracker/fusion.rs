//! The fused response: the Siamese map (calibrated to the first frame's self-match), the online target model's
//! response and the colour model's, blended into the one map whose peak places the box; cells in the core of
//! another held target's box are muted (a target passing in front of this one is that target, not this one).

use super::target::Target;
use super::target_model::Spectrum;
use super::{bilinear, Embedded};
use crate::bbox::BBox;
use crate::config::ModelConfig;
use ndarray::{s, Array2};

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

/// Fuses a target's maps, as its parameters weigh them.
pub(crate) struct Fusion<'a> {
    pub(crate) target: &'a Target,
    pub(crate) model: &'a ModelConfig,
    /// The other held targets' boxes, whose cores are muted.
    pub(crate) others: &'a [BBox],
}

impl Fusion<'_> {
    /// Offset of response cell 0 in search feature cells: the template window's half side.
    pub(crate) fn response_offset(&self) -> f64 {
        (self.model.template_window() as f64 - 1.0) / 2.0
    }

    /// A Siamese map in units of the first frame's self-match: 0 at the first response's median, 1 at its peak.
    fn calibrate(&self, raw: &Array2<f32>) -> Array2<f32> {
        let (floor, peak) = self.target.reference;
        let span = (peak - floor).max(f32::EPSILON * peak.abs().max(1.0));
        raw.mapv(|v| (v - floor) / span)
    }

    /// Each crop's maps and their fusion: `(1 - w) * siamese + w * target_model`, then with a colour model blended
    /// with the colour response over windows of the target's size (by the colour weight times how well the
    /// target's colours stood out on the first frame); cells in another held target's core muted.
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
            for (map, crop) in responses.fused.iter_mut().zip(crops) {
                self.exclude_others(map, crop);
            }
        }
        responses
    }

    /// Lowers a crop's map to its minimum on the cells whose place lies in the core (the central half, each way)
    /// of another held target's box.
    fn exclude_others(&self, map: &mut Array2<f32>, crop: &Crop) {
        if self.others.is_empty() {
            return;
        }
        let min = map.iter().copied().fold(f32::INFINITY, f32::min);
        let middle = (map.nrows() as f64 - 1.0) / 2.0;
        let cell = self.model.total_stride as f64 * crop.side / crop.size as f64;
        for ((row, col), v) in map.indexed_iter_mut() {
            let x = crop.centre.0 + (col as f64 - middle) * cell;
            let y = crop.centre.1 + (row as f64 - middle) * cell;
            let inside = self.others.iter().any(|b| {
                let (cx, cy) = b.center();
                (x - cx).abs() <= b.w / 4.0 && (y - cy).abs() <= b.h / 4.0
            });
            if inside {
                *v = min;
            }
        }
    }
}
