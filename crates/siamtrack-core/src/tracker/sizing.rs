//! The box's size, decided in one place: every proposal (the scale of the search crop the peak is in, the
//! templates' vote, the scale filter), one damping, and one clamp that keeps the box sane.

use super::siamese::Motion;
use super::target::{Target, TargetState};
use crate::config::{ConfidenceParams, ScaleParams};
use crate::error::Result;
use crate::image::ImageView;
use ndarray::ArrayView3;

/// A share `damping` of the change `factor` (1: no change).
fn damp(factor: f64, damping: f64) -> f64 {
    1.0 - damping + damping * factor
}

/// The box a located peak calls for: moved by the motion, its size changed by the crop's scale and, where the
/// template is confident (elsewhere a deformed or occluded target matches every scale badly, and the vote would be
/// noise), the templates' vote, both damped; then by the scale filter's estimate at the new place, which learns
/// its own pace. `features`: the search crop's features the peak is in; `score`: the frame's confidence.
pub(crate) fn size_located(
    target: &Target,
    frame: &ImageView,
    motion: &Motion,
    features: ArrayView3<f32>,
    score: f32,
    (scale, confidence): (&ScaleParams, &ConfidenceParams),
) -> Result<TargetState> {
    let state = &target.state;
    let mut change = damp(motion.crop_scale, scale.damping);
    if let (Some(vote), true) = (
        &target.scale_vote,
        score as f64 >= confidence.uncertain_below,
    ) {
        change *= damp(vote.vote(features, motion.cell), scale.damping);
    }
    if let Some(filter) = &target.scale_filter {
        let placed = (state.center.0 + motion.dx, state.center.1 + motion.dy);
        change *= filter.estimate(frame, placed, state.size)?;
    }
    Ok(place(state, motion, change, frame, scale))
}

/// The box of a target found again by the scan around `around`: the tile's scale taken whole (a re-detection,
/// not a frame-to-frame change).
pub(crate) fn size_recovered(
    around: &TargetState,
    motion: &Motion,
    frame: &ImageView,
    scale: &ScaleParams,
) -> TargetState {
    place(around, motion, motion.crop_scale, frame, scale)
}

/// `state` moved by the motion and each side scaled by `change`, kept sane: centre inside the frame, each side
/// within [min_ratio, max_ratio] of its initial value, at least min_px and at most the frame's (a frame smaller
/// than the box, as when a source's frames change size, holds the whole box at most).
fn place(
    state: &TargetState,
    motion: &Motion,
    change: f64,
    frame: &ImageView,
    p: &ScaleParams,
) -> TargetState {
    let clamp_side = |side: f64, initial: f64| {
        (side * change)
            .clamp(initial * p.min_ratio, initial * p.max_ratio)
            .max(p.min_px)
    };
    TargetState {
        center: (
            (state.center.0 + motion.dx).clamp(0.0, frame.width() as f64),
            (state.center.1 + motion.dy).clamp(0.0, frame.height() as f64),
        ),
        size: (
            clamp_side(state.size.0, state.initial_size.0).min(frame.width() as f64),
            clamp_side(state.size.1, state.initial_size.1).min(frame.height() as f64),
        ),
        initial_size: state.initial_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ChannelOrder;

    #[test]
    fn the_box_stays_sane() {
        let p = ScaleParams::default();
        let pixels = vec![0u8; 100 * 80 * 3];
        let frame = ImageView::new(&pixels, 100, 80, ChannelOrder::Bgr).unwrap();
        let mut state = TargetState {
            center: (50.0, 50.0),
            size: (20.0, 10.0),
            initial_size: (20.0, 10.0),
        };
        let motion = |dx: f64, dy: f64| Motion {
            dx,
            dy,
            crop_scale: 1.0,
            response: 1.0,
            map: 0,
            cell: (0.0, 0.0),
        };
        for _ in 0..20 {
            state = place(&state, &motion(1e6, -1e6), 1.5, &frame, &p);
        }
        assert_eq!(state.center, (100.0, 0.0), "centre kept in the frame");
        assert_eq!(state.size, (100.0, 50.0), "at most 5x the initial size");
        for _ in 0..20 {
            state = place(&state, &motion(0.0, 0.0), 0.5, &frame, &p);
        }
        assert_eq!(state.size, (4.0, 4.0), "at least 0.2x and min_px");
        // A frame smaller than the box (a source whose frames change size) holds the whole box at most.
        let small = vec![0u8; 60 * 40 * 3];
        let small = ImageView::new(&small, 60, 40, ChannelOrder::Bgr).unwrap();
        for _ in 0..20 {
            state = place(&state, &motion(0.0, 0.0), 1.5, &small, &p);
        }
        assert_eq!(state.size, (60.0, 40.0));
    }

    #[test]
    fn damping_takes_a_share_of_the_change() {
        assert_eq!(damp(1.5, 0.0), 1.0);
        assert_eq!(damp(1.5, 1.0), 1.5);
        assert!((damp(2.0, 0.25) - 1.25).abs() < 1e-12);
    }
}
