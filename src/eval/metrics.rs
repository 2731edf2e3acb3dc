//! OTB one-pass evaluation (OPE) metrics, plus the normalised precision of LaSOT / TrackingNet.
//!
//! Every frame with a valid ground-truth box counts, the first (initialisation) frame included; frames without one
//! (NaN rows) are skipped. A predicted box that is missing, non-finite or without positive size scores IoU 0 and an
//! infinite centre error.
//!
//! - Success: the share of frames whose IoU with the ground truth is strictly above `t`, for the 21 thresholds
//!   `t = 0, 0.05, ..., 1`; the success AUC is the mean of those 21 rates. (Identical boxes have IoU 1, which
//!   exceeds every threshold but the last, so they score 20/21 = 0.952.)
//! - Precision: the share of frames whose centre error (Euclidean distance of box centres, pixels) is at most `d`,
//!   for `d = 0, 1, ..., 50`; the reported precision is the value at 20 px.
//! - Normalised precision (LaSOT, Fan et al. CVPR 2019; TrackingNet, Müller et al. ECCV 2018; as in pytracking):
//!   the centre error is measured after dividing x offsets by the ground-truth width and y offsets by its height,
//!   `e = hypot((px - gx) / gw, (py - gy) / gh)`; the curve is the share of frames with `e <= t` for
//!   `t = 0, 0.01, ..., 0.5` and the reported value is the mean of those 51 rates (the area under that curve).

use anyhow::{bail, Result};
use serde::Serialize;
use siamtrack_core::BBox;

/// Number of IoU thresholds of the success plot: 0, 0.05, ..., 1.
pub const SUCCESS_STEPS: usize = 21;
/// Centre-error thresholds of the precision plot: 0..=50 px.
pub const PRECISION_STEPS: usize = 51;
/// The precision reported in tables: share of frames within 20 px.
pub const PRECISION_AT_PX: usize = 20;
/// Normalised centre-error thresholds: 0, 0.01, ..., 0.5.
pub const NORM_STEPS: usize = 51;

pub fn success_threshold(i: usize) -> f64 {
    i as f64 / 20.0
}

pub fn precision_threshold(i: usize) -> f64 {
    i as f64
}

pub fn norm_threshold(i: usize) -> f64 {
    i as f64 / 100.0
}

/// The scores of one tracker on one sequence.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SequenceScore {
    /// Frames with a valid ground-truth box (the ones scored).
    pub frames: usize,
    /// Success AUC: mean of `success`.
    pub auc: f64,
    /// Precision at 20 px.
    pub precision: f64,
    /// Normalised precision: mean of `norm_curve`.
    pub norm_precision: f64,
    /// Share of frames with IoU > 0.75: how often the box is tight, not only on the target.
    pub success_75: f64,
    /// The box's size against the ground truth's, over frames with both boxes.
    pub size: SizeErrors,
    #[serde(skip)]
    pub success: Vec<f64>,
    #[serde(skip)]
    pub precision_curve: Vec<f64>,
    #[serde(skip)]
    pub norm_curve: Vec<f64>,
}

/// How the predicted box's size compares with the ground truth's, frame by frame: the log of the area ratio
/// (positive: too large) and the log of the aspect ratio's ratio (positive: too wide).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SizeErrors {
    /// Median signed log area ratio (0: right on the median frame; ln 2 = 0.69: twice too large).
    pub log_area: f64,
    /// Median absolute log aspect error.
    pub log_aspect: f64,
    /// Share of frames whose area is off by more than 1.5x either way.
    pub area_off: f64,
}

/// The size errors over the frames where both boxes are valid (NaN without any).
pub fn size_errors(pred: &[Option<BBox>], truth: &[Option<BBox>]) -> SizeErrors {
    let pairs: Vec<(BBox, BBox)> = pred
        .iter()
        .zip(truth)
        .filter_map(|(p, t)| Some(((*p).filter(valid)?, (*t).filter(valid)?)))
        .collect();
    let area: Vec<f64> = pairs
        .iter()
        .map(|(p, t)| (p.area() / t.area()).ln())
        .collect();
    let aspect: Vec<f64> = pairs
        .iter()
        .map(|(p, t)| ((p.w / p.h) / (t.w / t.h)).ln().abs())
        .collect();
    let off = area.iter().filter(|r| r.abs() > 1.5f64.ln()).count();
    SizeErrors {
        log_area: median(&area),
        log_aspect: median(&aspect),
        area_off: if area.is_empty() {
            f64::NAN
        } else {
            off as f64 / area.len() as f64
        },
    }
}

pub fn median(values: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n % 2 {
        1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The area under the ROC curve of `scores` separating the `positive` frames from the others: the chance that a
/// positive frame scores above a negative one (ties count half); NaN without both kinds.
pub fn auroc(scores: &[f64], positive: &[bool]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Mean ranks (1-based) of tied scores, summed over the positives (Mann-Whitney U).
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && scores[order[end]] == scores[order[start]] {
            end += 1;
        }
        let rank = (start + 1 + end) as f64 / 2.0;
        rank_sum += order[start..end].iter().filter(|&&k| positive[k]).count() as f64 * rank;
        start = end;
    }
    let p = positive.iter().filter(|&&b| b).count() as f64;
    let n = positive.len() as f64 - p;
    if p == 0.0 || n == 0.0 {
        return f64::NAN;
    }
    (rank_sum - p * (p + 1.0) / 2.0) / (p * n)
}

fn valid(b: &BBox) -> bool {
    b.is_finite() && b.w > 0.0 && b.h > 0.0
}

/// Per-frame IoU, centre error and normalised centre error.
fn frame_errors(pred: Option<&BBox>, truth: &BBox) -> (f64, f64, f64) {
    match pred.filter(|p| valid(p)) {
        Some(p) => {
            let (px, py) = p.center();
            let (gx, gy) = truth.center();
            let norm = ((px - gx) / truth.w).hypot((py - gy) / truth.h);
            (p.iou(truth), p.center_distance(truth), norm)
        }
        None => (0.0, f64::INFINITY, f64::INFINITY),
    }
}

/// Scores predictions against ground truth, frame by frame (both 0-based; `None` truth = not scored).
pub fn score(pred: &[Option<BBox>], truth: &[Option<BBox>]) -> Result<SequenceScore> {
    if pred.len() != truth.len() {
        bail!(
            "{} result rows for {} ground-truth frames",
            pred.len(),
            truth.len()
        );
    }
    let errors: Vec<(f64, f64, f64)> = pred
        .iter()
        .zip(truth)
        .filter_map(|(p, t)| t.as_ref().map(|t| frame_errors(p.as_ref(), t)))
        .collect();
    let n = errors.len();
    if n == 0 {
        bail!("no frame has a valid ground-truth box");
    }
    let share = |hit: &dyn Fn(&(f64, f64, f64)) -> bool| {
        errors.iter().filter(|e| hit(e)).count() as f64 / n as f64
    };
    let success: Vec<f64> = (0..SUCCESS_STEPS)
        .map(|i| share(&|e| e.0 > success_threshold(i)))
        .collect();
    let precision_curve: Vec<f64> = (0..PRECISION_STEPS)
        .map(|i| share(&|e| e.1 <= precision_threshold(i)))
        .collect();
    let norm_curve: Vec<f64> = (0..NORM_STEPS)
        .map(|i| share(&|e| e.2 <= norm_threshold(i)))
        .collect();
    Ok(SequenceScore {
        frames: n,
        auc: mean(&success),
        precision: precision_curve[PRECISION_AT_PX],
        norm_precision: mean(&norm_curve),
        success_75: share(&|e| e.0 > 0.75),
        size: size_errors(pred, truth),
        success,
        precision_curve,
        norm_curve,
    })
}

pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.iter().sum::<f64>() / values.len() as f64
}

/// Point-wise mean of equally long curves (every sequence weighs the same, as in the OTB toolkit).
pub fn mean_curve<'a>(curves: impl IntoIterator<Item = &'a [f64]>) -> Vec<f64> {
    let mut sum: Vec<f64> = Vec::new();
    let mut count = 0usize;
    for c in curves {
        if sum.is_empty() {
            sum = vec![0.0; c.len()];
        }
        for (s, v) in sum.iter_mut().zip(c) {
            *s += v;
        }
        count += 1;
    }
    sum.iter().map(|s| s / count as f64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: f64, y: f64, w: f64, h: f64) -> Option<BBox> {
        Some(BBox::new(x, y, w, h))
    }

    #[test]
    fn identical_boxes_score_twenty_of_twenty_one() {
        let truth = vec![b(10.0, 20.0, 30.0, 40.0); 5];
        let s = score(&truth, &truth).unwrap();
        // IoU 1 exceeds t = 0 ... 0.95 but not t = 1: 20 of 21 thresholds.
        assert!((s.auc - 20.0 / 21.0).abs() < 1e-12);
        assert_eq!(s.precision, 1.0);
        assert_eq!(s.norm_precision, 1.0);
        assert_eq!(s.frames, 5);
    }

    #[test]
    fn half_width_shift() {
        // 10x10 box moved 5 px right: intersection 5*10 = 50, union 100+100-50 = 150, IoU 1/3.
        // 1/3 > t for t = 0, 0.05, ..., 0.30 (7 thresholds) -> AUC 7/21 = 1/3.
        // Centre error 5 px <= 20 -> precision 1. Normalised error 5/10 = 0.5 <= t only for t = 0.5 -> 1/51.
        let truth = vec![b(0.0, 0.0, 10.0, 10.0)];
        let pred = vec![b(5.0, 0.0, 10.0, 10.0)];
        let s = score(&pred, &truth).unwrap();
        assert!((s.auc - 7.0 / 21.0).abs() < 1e-12, "{}", s.auc);
        assert_eq!(s.precision, 1.0);
        assert!((s.norm_precision - 1.0 / 51.0).abs() < 1e-12);
    }

    #[test]
    fn nan_frames_skipped_first_frame_counted() {
        // Frame 0 identical (20 thresholds), frame 1 shifted 5 px (IoU 1/3: 7 thresholds), frame 2 absent
        // (skipped), frame 3 30 px away (IoU 0: none, centre error 30 > 20), frame 4 no prediction (IoU 0).
        // Success AUC = (20 + 7 + 0 + 0) / (4 * 21) = 27/84; precision = 2/4.
        let truth = vec![
            b(0.0, 0.0, 10.0, 10.0),
            b(0.0, 0.0, 10.0, 10.0),
            None,
            b(0.0, 0.0, 10.0, 10.0),
            b(0.0, 0.0, 10.0, 10.0),
        ];
        let pred = vec![
            b(0.0, 0.0, 10.0, 10.0),
            b(5.0, 0.0, 10.0, 10.0),
            b(0.0, 0.0, 10.0, 10.0),
            b(30.0, 0.0, 10.0, 10.0),
            None,
        ];
        let s = score(&pred, &truth).unwrap();
        assert_eq!(s.frames, 4);
        assert!((s.auc - 27.0 / 84.0).abs() < 1e-12, "{}", s.auc);
        assert_eq!(s.precision, 0.5);
        // Success at t = 0 counts boxes with any overlap: frames 0 and 1 -> 0.5.
        assert_eq!(s.success[0], 0.5);
        assert_eq!(s.success[20], 0.0);
    }

    #[test]
    fn length_mismatch_is_an_error() {
        assert!(score(&[b(0.0, 0.0, 1.0, 1.0)], &[]).is_err());
        assert!(score(&[None], &[None]).is_err());
    }
}

#[cfg(test)]
mod size_and_confidence_tests {
    use super::*;

    #[test]
    fn size_errors_are_signed_for_the_area_and_absolute_for_the_aspect() {
        let truth = vec![Some(BBox::new(0.0, 0.0, 10.0, 10.0)); 4];
        let pred = vec![
            Some(BBox::new(0.0, 0.0, 20.0, 10.0)), // twice the area, twice as wide
            Some(BBox::new(0.0, 0.0, 20.0, 20.0)), // four times the area
            Some(BBox::new(0.0, 0.0, 10.0, 10.0)), // right
            None,                                  // missing: not a size
        ];
        let e = size_errors(&pred, &truth);
        assert!((e.log_area - 2f64.ln()).abs() < 1e-12, "{e:?}");
        assert!((e.log_aspect - 0.0).abs() < 1e-12, "{e:?}");
        assert!((e.area_off - 2.0 / 3.0).abs() < 1e-12, "{e:?}");
    }

    #[test]
    fn auroc_ranks_positives_above_negatives_and_ties_count_half() {
        assert_eq!(
            auroc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]),
            1.0
        );
        assert_eq!(
            auroc(&[0.1, 0.2, 0.8, 0.9], &[true, true, false, false]),
            0.0
        );
        assert_eq!(auroc(&[0.5, 0.5], &[true, false]), 0.5);
        assert_eq!(
            auroc(&[0.1, 0.4, 0.35, 0.8], &[false, true, false, true]),
            1.0
        );
        assert_eq!(
            auroc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
            0.75
        );
        assert!(auroc(&[0.3], &[true]).is_nan());
    }
}
