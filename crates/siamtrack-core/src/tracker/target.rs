//! What the tracker knows of its target: where it is, how it started, how sure the last frames were, and the models
//! learned of it (template, scale vote, target model, scale filter, colour model).

use super::colour::{ColourModel, CropBox};
use super::scale::ScaleFilter;
use super::siamese::ScaleVote;
use super::target_model::TargetModel;
use crate::bbox::BBox;
use ndarray::Array3;

/// Where the target is and how it started.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TargetState {
    pub(crate) center: (f64, f64),
    pub(crate) size: (f64, f64),
    pub(crate) initial_size: (f64, f64),
}

impl TargetState {
    pub(crate) fn bbox(&self) -> BBox {
        BBox::from_center(self.center.0, self.center.1, self.size.0, self.size.1)
    }

    /// This box in the pixels of a square crop of `crop_side` frame pixels centred at `crop_centre` and resized to
    /// `crop_size` pixels.
    pub(crate) fn in_crop(
        &self,
        crop_centre: (f64, f64),
        crop_side: f64,
        crop_size: u32,
    ) -> CropBox {
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

/// A target and everything learned of it.
pub(crate) struct Target {
    pub(crate) state: TargetState,
    /// The first frame's response: background level (median) and the target's match with itself (peak).
    pub(crate) reference: (f32, f32),
    /// Consecutive frames whose match was too weak to trust.
    pub(crate) weak_frames: u32,
    /// Frames since the target was declared lost; 0 while it is held.
    pub(crate) lost_frames: u32,
    /// Where the target was when it was declared lost: the recovery scan grows around it, wherever the box wanders.
    pub(crate) last_seen: TargetState,
    /// Whether the last frame was `tracking`: the next search may use the smaller confident crop.
    pub(crate) confident: bool,
    /// Next tile of the recovery scan, so successive frames cover the whole grid.
    pub(crate) scan_cursor: usize,
    /// Template features, already cut to the correlation window.
    pub(crate) template: Array3<f32>,
    /// Votes on the size from templates at several scales; `None` when the parameters ask for none.
    pub(crate) scale_vote: Option<ScaleVote>,
    /// The discriminative model learned online; `None` when its weight is 0.
    pub(crate) model: Option<TargetModel>,
    /// Sizes the box after the search placed it; `None` when the parameters ask for none.
    pub(crate) scale_filter: Option<ScaleFilter>,
    /// The target's colours against its surroundings; `None` when its weight is 0.
    pub(crate) colour: Option<ColourModel>,
}

impl Target {
    pub(crate) fn is_lost(&self) -> bool {
        self.lost_frames > 0
    }

    /// Whether a weak match moves the box: only when the target or colour model shares the fused map. They find a
    /// target whose look has drifted away from the template, and a box that waits loses a moving target for good;
    /// the template alone, when weak, is wrong more often than not, so then the box waits (docs/accuracy.md).
    pub(crate) fn moves_on_weak_match(&self) -> bool {
        self.model.is_some() || self.colour.is_some()
    }
}
