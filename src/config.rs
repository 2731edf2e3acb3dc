//! The model sidecar: everything the tracker needs to know about an encoder, read from `models/<name>.json` beside
//! `models/<name>.onnx`. Nothing model-specific is hard-coded elsewhere.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The model `siamtrack` uses when none is named, relative to the install or source tree.
pub const DEFAULT_MODEL: &str = "models/effnet_lite0_s8_int8.json";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    Rgb,
    Bgr,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The ONNX file, relative to the sidecar.
    pub onnx: String,
    pub input_name: String,
    pub output_name: String,
    pub channel_order: ChannelOrder,
    /// Normalisation applied to pixel/255, per channel in `channel_order`.
    pub mean: [f32; 3],
    pub std: [f32; 3],
    pub template_size: u32,
    pub search_size: u32,
    pub total_stride: u32,
    pub channels: usize,
    pub template_feature_size: usize,
    pub search_feature_size: usize,
    pub tracker: TrackerParams,
    /// Optional box-size head on the depthwise correlation map; without it the box size comes from the scale search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_head: Option<BoxHeadConfig>,
    /// A learned channel metric (`channels` rows of `channels` values, by `scripts/train_metric.py`): each template
    /// cell's features become `template_metric x cell`, so the Siamese response is a learned bilinear similarity
    /// instead of the plain dot product. Applied once to the templates at init; nothing per frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_metric: Option<Vec<Vec<f32>>>,
    /// Where the sidecar was read from; the ONNX path resolves against it.
    #[serde(skip)]
    pub sidecar_path: PathBuf,
}

/// A light head (SiamFC++-style) that reads the target's size off the correlation. Its ONNX graph maps
/// [N, 2 x channels, R, R], the depthwise correlation of template and search features followed by the search
/// features averaged over the template window at each response cell, to [N, 2, R, R]: the factors by which the
/// width and height of the box the search crop was cut for should change, for a target centred at that cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoxHeadConfig {
    /// The head's ONNX file, relative to the sidecar.
    pub onnx: String,
    pub input_name: String,
    pub output_name: String,
}

/// SiamFC hyper-parameters, tuned per model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackerParams {
    /// Context margin around the target, as a share of (w + h).
    pub context: f64,
    /// Number of search scales (odd), batched into one encoder run.
    pub scale_num: usize,
    pub scale_step: f64,
    /// Multiplies the confidence of the non-central scales.
    pub scale_penalty: f64,
    /// Damping of the scale change per frame.
    pub scale_lr: f64,
    /// With a box head: how far each frame moves the box size towards the head's estimate (0 keeps the size).
    #[serde(default = "default_size_lr")]
    pub size_lr: f64,
    /// Weight of the Hann window (cosine window) penalising large displacements.
    pub window_influence: f64,
    /// Upsampling factor of the response map.
    pub response_up: usize,
    /// When > 0, correlate only the central k x k cells of the template features.
    #[serde(default)]
    pub template_crop: usize,
    /// Weight each template cell by how much of it the first box covers, so that the background beside a thin or
    /// flat target (inside the square template window) does not take part in the match.
    #[serde(default)]
    pub template_box_mask: bool,
    /// Apply the sidecar's learned `template_metric` (when it has one); `false` correlates the plain features.
    #[serde(default = "default_learned_metric")]
    pub learned_metric: bool,
    /// With one search crop (`scale_num` 1; several crops choose the scale themselves): templates of the target
    /// shrunk and grown by powers of `scale_step` vote on its size at the located place, on frames where the
    /// template is confident (`uncertain_below`); the vote is damped by `scale_lr` and penalised by
    /// `scale_penalty` as SiamFC's scale search is, and the scale filter then refines the size.
    #[serde(default)]
    pub scale_vote: bool,
    /// Steps of `scale_step` each way in the scale vote: 1 gives SiamFC-3s's three scales, 2 SiamFC's five.
    #[serde(default = "default_scale_vote_steps")]
    pub scale_vote_steps: u32,
    /// The box never shrinks below / grows beyond these multiples of its initial size.
    #[serde(default = "default_min_size_ratio")]
    pub min_size_ratio: f64,
    #[serde(default = "default_max_size_ratio")]
    pub max_size_ratio: f64,
    /// Smallest width or height in pixels.
    #[serde(default = "default_min_size_px")]
    pub min_size_px: f64,
    /// Confidence below which a track is `uncertain`, and below which a frame is too weak to move the box.
    /// Defaults (and those of the recovery below) as measured on dev in docs/confidence.md.
    #[serde(default = "default_uncertain_below")]
    pub uncertain_below: f64,
    #[serde(default = "default_lost_below")]
    pub lost_below: f64,
    /// Consecutive frames below `lost_below` after which the target is lost and the recovery scan starts.
    #[serde(default = "default_lost_after")]
    pub lost_after: u32,
    /// Confidence a recovery scan needs to take the target back.
    #[serde(default = "default_recover_above")]
    pub recover_above: f64,
    /// Growth of the recovery search region per lost frame.
    #[serde(default = "default_search_growth")]
    pub search_growth: f64,
    /// Search crops embedded per frame while scanning for a lost target (bounds the cost of a lost frame).
    #[serde(default = "default_max_scan_tiles")]
    pub max_scan_tiles: usize,
    /// Target sizes, relative to the last one, that the scan for a lost target tries.
    #[serde(default = "default_scan_scales")]
    pub scan_scales: Vec<f64>,
    /// Weight of the online target model's response in the fused map that places the box (0: no target model, the
    /// Siamese response alone). Both maps are in units of the first frame's self-match; the track's confidence
    /// stays the Siamese response's at the chosen place.
    #[serde(default = "default_target_weight")]
    pub target_weight: f64,
    /// Gaussian label spread of the target model, as a share of the target's side (per axis).
    #[serde(default = "default_target_sigma")]
    pub target_sigma: f64,
    /// Ridge term of the target model, relative to the first frame's mean spectral energy.
    #[serde(default = "default_target_lambda")]
    pub target_lambda: f64,
    /// Extent of the target model's filter as a multiple of the target's box (as in CSR-DCF and BACF): the filter
    /// weighs only the target, not the context around it. 0: the whole search crop (KCF, DSST).
    #[serde(default)]
    pub target_support: f64,
    /// Confident frames between two solves of the target model (each frame's sample joins the support set; the
    /// filter is solved anew at every `target_solve_every`-th, as ECO does).
    #[serde(default = "default_target_solve_every")]
    pub target_solve_every: usize,
    /// Samples the target model keeps (the first frame's among them).
    #[serde(default = "default_target_memory")]
    pub target_memory: usize,
    /// Weight of each new sample of the target model; older ones decay by (1 - rate). 0: the first frame only.
    #[serde(default = "default_target_learning_rate")]
    pub target_learning_rate: f64,
    /// Least share of the target model's weight held by the first frame.
    #[serde(default = "default_target_first_weight")]
    pub target_first_weight: f64,
    /// Cells between the target model's own peak and the chosen place within which the two agree. A frame teaches
    /// the target model only when it is `tracking` (confidence >= `uncertain_below`) and the two agree; a
    /// re-detected candidate needs their agreement too.
    #[serde(default = "default_target_agreement")]
    pub target_agreement: f64,
    /// Weight of the colour model's response (the mean target probability of its colours over a box-sized
    /// window) in the fused map; 0: no colour model.
    #[serde(default)]
    pub colour_weight: f64,
    /// Weight of each frame that is not weak in the colour model's histograms.
    #[serde(default = "default_colour_learning_rate")]
    pub colour_learning_rate: f64,
    /// Side in pixels of the search crop while the target is held with confidence (the last frame `tracking`);
    /// an uncertain or lost target gets the full `search_size`. 0: always `search_size`. A smaller crop costs
    /// less encoder time and sees less of the frame around the target.
    #[serde(default)]
    pub confident_search_size: u32,
    /// Scales in the ladder of the DSST-style scale filter that sizes the box after the search has placed it
    /// (0: no filter; the box size then comes from the `scale_num` search crops alone).
    #[serde(default = "default_scale_filter_scales")]
    pub scale_filter_scales: usize,
    /// Ratio between neighbouring scales of the filter's ladder.
    #[serde(default = "default_scale_filter_step")]
    pub scale_filter_step: f64,
    /// Weight of each frame that is not weak in the scale filter.
    #[serde(default = "default_scale_filter_learning_rate")]
    pub scale_filter_learning_rate: f64,
    /// Pixels of each resized patch of the scale filter.
    #[serde(default = "default_scale_filter_area")]
    pub scale_filter_area: f64,
}

fn default_learned_metric() -> bool {
    true
}
fn default_size_lr() -> f64 {
    0.5
}
fn default_min_size_ratio() -> f64 {
    0.2
}
fn default_max_size_ratio() -> f64 {
    5.0
}
fn default_min_size_px() -> f64 {
    4.0
}
fn default_uncertain_below() -> f64 {
    0.5
}
fn default_lost_below() -> f64 {
    0.15
}
fn default_lost_after() -> u32 {
    10
}
fn default_recover_above() -> f64 {
    0.6
}
fn default_search_growth() -> f64 {
    1.5
}
fn default_max_scan_tiles() -> usize {
    9
}
fn default_scan_scales() -> Vec<f64> {
    vec![0.8, 1.0, 1.25]
}
fn default_target_weight() -> f64 {
    0.0
}
fn default_target_sigma() -> f64 {
    0.1
}
fn default_target_lambda() -> f64 {
    0.01
}
fn default_target_solve_every() -> usize {
    1
}
fn default_target_memory() -> usize {
    8
}
fn default_target_learning_rate() -> f64 {
    0.05
}
fn default_target_first_weight() -> f64 {
    0.5
}
fn default_scale_vote_steps() -> u32 {
    2
}
fn default_target_agreement() -> f64 {
    1.5
}
fn default_scale_filter_scales() -> usize {
    0
}
fn default_scale_filter_step() -> f64 {
    1.03
}
fn default_scale_filter_learning_rate() -> f64 {
    0.025
}
fn default_colour_learning_rate() -> f64 {
    0.04
}
fn default_scale_filter_area() -> f64 {
    512.0
}

impl ModelConfig {
    /// Reads a sidecar. `path` may name the `.json` or the `.onnx` beside it.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let sidecar = if path.extension().is_some_and(|e| e == "onnx") {
            path.with_extension("json")
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&sidecar)
            .with_context(|| format!("cannot read model sidecar {}", sidecar.display()))?;
        let mut config = Self::from_json(&text)
            .with_context(|| format!("invalid model sidecar {}", sidecar.display()))?;
        config.sidecar_path = sidecar;
        Ok(config)
    }

    pub fn from_json(text: &str) -> Result<Self> {
        let config: ModelConfig = serde_json::from_str(text)?;
        config.validate()?;
        Ok(config)
    }

    /// Overrides one tracker hyper-parameter, e.g. `("window_influence", "0.3")`, and re-validates.
    pub fn set_tracker_param(&mut self, key: &str, value: &str) -> Result<()> {
        let mut params = serde_json::to_value(&self.tracker)?;
        let fields = params.as_object_mut().expect("TrackerParams is a struct");
        if !fields.contains_key(key) {
            let mut known: Vec<&String> = fields.keys().collect();
            known.sort();
            bail!("unknown tracker parameter {key:?} (known: {known:?})");
        }
        let value: serde_json::Value = serde_json::from_str(value)
            .with_context(|| format!("{key}: {value:?} is not a number"))?;
        fields.insert(key.to_string(), value);
        let mut next = self.clone();
        next.tracker =
            serde_json::from_value(params).with_context(|| format!("bad value for {key}"))?;
        next.validate()?;
        *self = next;
        Ok(())
    }

    pub fn onnx_path(&self) -> PathBuf {
        self.beside_sidecar(&self.onnx)
    }

    /// The box head's ONNX file, when the model has one.
    pub fn box_head_path(&self) -> Option<PathBuf> {
        self.box_head
            .as_ref()
            .map(|head| self.beside_sidecar(&head.onnx))
    }

    fn beside_sidecar(&self, file: &str) -> PathBuf {
        self.sidecar_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(file)
    }

    /// Side of the correlated template feature window.
    pub fn template_window(&self) -> usize {
        match self.tracker.template_crop {
            0 => self.template_feature_size,
            k => k,
        }
    }

    /// Side of the response map (before upsampling).
    pub fn response_size(&self) -> usize {
        self.response_size_for(self.search_size)
    }

    /// Side of the response map of a search crop of `search_size` pixels.
    pub fn response_size_for(&self, search_size: u32) -> usize {
        self.feature_size_for(search_size) + 1 - self.template_window()
    }

    /// Side of the features of a search crop of `search_size` pixels: each `total_stride` pixels beyond the
    /// nominal search crop add or remove a cell.
    pub fn feature_size_for(&self, search_size: u32) -> usize {
        let stride = self.total_stride as i64;
        let extra = (search_size as i64 - self.search_size as i64) / stride;
        (self.search_feature_size as i64 + extra) as usize
    }

    /// The search crop side while the target is held with confidence.
    pub fn confident_search_size(&self) -> u32 {
        match self.tracker.confident_search_size {
            0 => self.search_size,
            side => side,
        }
    }

    fn validate(&self) -> Result<()> {
        let t = &self.tracker;
        if self.template_size == 0 || self.search_size <= self.template_size {
            bail!(
                "search_size ({}) must exceed template_size ({})",
                self.search_size,
                self.template_size
            );
        }
        if self.total_stride == 0 || self.channels == 0 {
            bail!("total_stride and channels must be positive");
        }
        // Bounds that keep a hostile or mistyped sidecar from asking for absurd allocations.
        if self.search_size > 4096 || self.search_feature_size > 1024 || self.channels > 4096 {
            bail!("search_size (at most 4096), search_feature_size (1024) or channels (4096) too large");
        }
        if t.response_up > 64 || t.scale_num > 15 || t.max_scan_tiles > 256 || t.lost_after == 0 {
            bail!("tracker: response_up (at most 64), scale_num (15) or max_scan_tiles (256) too large, or lost_after 0");
        }
        if self.std.iter().any(|s| *s <= 0.0 || !s.is_finite()) {
            bail!("std values must be positive, got {:?}", self.std);
        }
        if self.template_window() == 0
            || self.template_window() > self.template_feature_size
            || self.template_window() > self.search_feature_size
        {
            bail!(
                "template window {} must fit the template ({}) and search ({}) features",
                self.template_window(),
                self.template_feature_size,
                self.search_feature_size
            );
        }
        if let Some(metric) = &self.template_metric {
            if metric.len() != self.channels
                || metric
                    .iter()
                    .any(|row| row.len() != self.channels || row.iter().any(|v| !v.is_finite()))
            {
                bail!(
                    "template_metric must be {0} rows of {0} finite values (one per channel)",
                    self.channels
                );
            }
        }
        let confident = self.confident_search_size();
        if confident > self.search_size
            || confident <= self.template_size
            || !(self.search_size - confident).is_multiple_of(self.total_stride)
            || self.feature_size_for(confident) < self.template_window()
        {
            bail!(
                "tracker.confident_search_size ({confident}) must lie between template_size ({}) and search_size ({}), a multiple of total_stride ({}) below search_size",
                self.template_size,
                self.search_size,
                self.total_stride
            );
        }
        if confident != self.search_size && self.box_head.is_some() {
            bail!("tracker.confident_search_size: the box head reads one response size; leave it 0 with a box head");
        }
        if self.response_size() * t.response_up > 2048 {
            bail!(
                "tracker: the upsampled response ({} x {}) must be at most 2048 wide",
                self.response_size(),
                t.response_up
            );
        }
        if t.scale_num.is_multiple_of(2) {
            bail!("tracker.scale_num must be odd, got {}", t.scale_num);
        }
        if t.response_up == 0
            || t.scale_step < 1.0
            || !(0.0..=1.0).contains(&t.scale_lr)
            || !(0.0..=1.0).contains(&t.size_lr)
        {
            bail!(
                "tracker: response_up must be > 0, scale_step >= 1, scale_lr and size_lr in 0..1"
            );
        }
        if !(0.0 <= t.lost_below && t.lost_below <= t.uncertain_below && t.uncertain_below <= 1.0) {
            bail!("tracker: need 0 <= lost_below <= uncertain_below <= 1");
        }
        if t.scan_scales.is_empty()
            || t.scan_scales.len() > 8
            || t.scan_scales.iter().any(|s| !(0.1..=10.0).contains(s))
        {
            bail!("tracker: scan_scales needs 1 to 8 values in 0.1..10");
        }
        if t.search_growth < 1.0 || !(0.0..=1.0).contains(&t.recover_above) {
            bail!("tracker: search_growth must be >= 1 and recover_above in 0..1");
        }
        if !(0.0..=1.0).contains(&t.window_influence) || t.context < 0.0 {
            bail!("tracker: window_influence must be in 0..1 and context >= 0");
        }
        let unit = |v: f64| (0.0..=1.0).contains(&v);
        let target_ok = unit(t.target_weight)
            && unit(t.colour_weight)
            && unit(t.colour_learning_rate)
            && unit(t.target_learning_rate)
            && unit(t.target_first_weight)
            && t.target_sigma > 0.0
            && t.target_lambda > 0.0
            && t.target_agreement >= 0.0
            && (t.target_support == 0.0 || (0.5..=4.0).contains(&t.target_support))
            && (1..=16).contains(&t.target_solve_every)
            && (1..=64).contains(&t.target_memory);
        if !target_ok {
            bail!("tracker: target_weight, colour_weight, colour_learning_rate, target_learning_rate and target_first_weight must be in 0..1, target_sigma and target_lambda > 0, target_agreement >= 0, target_support 0 or in 0.5..4, target_solve_every in 1..16, target_memory in 1..64");
        }
        if !(1..=4).contains(&t.scale_vote_steps) {
            bail!("tracker: scale_vote_steps must be in 1..4");
        }
        if t.scale_filter_scales > 65
            || t.scale_filter_step < 1.0
            || !(0.0..=1.0).contains(&t.scale_filter_learning_rate)
            || !(16.0..=16384.0).contains(&t.scale_filter_area)
        {
            bail!("tracker: scale_filter_scales at most 65, scale_filter_step >= 1, scale_filter_learning_rate in 0..1, scale_filter_area in 16..16384");
        }
        if !(t.min_size_ratio > 0.0 && t.min_size_ratio <= 1.0 && t.max_size_ratio >= 1.0) {
            bail!("tracker: min_size_ratio must be in (0, 1] and max_size_ratio >= 1");
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const SIDECAR: &str = r#"{
        "name": "test", "onnx": "test.onnx", "input_name": "input", "output_name": "features",
        "channel_order": "rgb", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
        "template_size": 127, "search_size": 255, "total_stride": 8, "channels": 40,
        "template_feature_size": 16, "search_feature_size": 32,
        "tracker": {"context": 0.5, "scale_num": 3, "scale_step": 1.0375, "scale_penalty": 0.9745,
                    "scale_lr": 0.59, "window_influence": 0.176, "response_up": 16}
    }"#;

    #[test]
    fn parses_sidecar_with_defaults() {
        let c = ModelConfig::from_json(SIDECAR).unwrap();
        assert_eq!(c.channel_order, ChannelOrder::Rgb);
        assert_eq!(c.tracker.template_crop, 0);
        assert_eq!(c.tracker.min_size_ratio, 0.2);
        assert_eq!(c.tracker.max_size_ratio, 5.0);
        assert_eq!(c.response_size(), 17);
        assert_eq!(c.box_head, None);
    }

    #[test]
    fn box_head_resolves_beside_the_sidecar() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        let head = r#""box_head": {"onnx": "m_head.onnx", "input_name": "head_input", "output_name": "size_change"},"#;
        std::fs::write(&path, SIDECAR.replacen('{', &format!("{{{head}"), 1)).unwrap();
        let c = ModelConfig::load(&path).unwrap();
        assert_eq!(c.box_head_path(), Some(dir.path().join("m_head.onnx")));
        assert_eq!(c.box_head.unwrap().input_name, "head_input");
        let mut c = ModelConfig::from_json(SIDECAR).unwrap();
        assert!(c.set_tracker_param("size_lr", "1.5").is_err());
        c.set_tracker_param("size_lr", "0.25").unwrap();
        assert_eq!(c.tracker.size_lr, 0.25);
    }

    #[test]
    fn template_metric_must_be_square_over_the_channels() {
        let with = |metric: &str| {
            ModelConfig::from_json(&SIDECAR.replacen(
                '{',
                &format!("{{\"template_metric\": {metric},"),
                1,
            ))
        };
        let row = format!("[{}]", vec!["0.5"; 40].join(","));
        let square = format!("[{}]", vec![row.as_str(); 40].join(","));
        assert_eq!(with(&square).unwrap().template_metric.unwrap()[39][39], 0.5);
        let short = format!("[{}]", vec![row.as_str(); 39].join(","));
        let err = with(&short).unwrap_err().to_string();
        assert!(
            err.contains("template_metric must be 40 rows of 40"),
            "{err}"
        );
    }

    #[test]
    fn template_crop_shrinks_window_and_grows_response() {
        let c = ModelConfig::from_json(&SIDECAR.replace(
            "\"response_up\": 16",
            "\"response_up\": 16, \"template_crop\": 8",
        ))
        .unwrap();
        assert_eq!(c.template_window(), 8);
        assert_eq!(c.response_size(), 25);
    }

    #[test]
    fn rejects_missing_and_wrong_fields() {
        let missing = ModelConfig::from_json(&SIDECAR.replace("\"channels\": 40,", ""));
        assert!(format!("{:#}", missing.unwrap_err()).contains("missing field `channels`"));
        let even = ModelConfig::from_json(&SIDECAR.replace("\"scale_num\": 3", "\"scale_num\": 2"));
        assert!(format!("{:#}", even.unwrap_err()).contains("scale_num must be odd"));
        let order = ModelConfig::from_json(&SIDECAR.replace("\"rgb\"", "\"rbg\""));
        assert!(format!("{:#}", order.unwrap_err()).contains("unknown variant `rbg`"));
    }

    #[test]
    fn tracker_params_can_be_overridden() {
        let mut c = ModelConfig::from_json(SIDECAR).unwrap();
        c.set_tracker_param("window_influence", "0.3").unwrap();
        c.set_tracker_param("template_crop", "8").unwrap();
        assert_eq!(
            (c.tracker.window_influence, c.tracker.template_crop),
            (0.3, 8)
        );
        let unknown = c.set_tracker_param("window", "0.3").unwrap_err();
        assert!(unknown
            .to_string()
            .contains("unknown tracker parameter \"window\""));
        assert!(c.set_tracker_param("scale_num", "4").is_err());
        assert_eq!(c.tracker.scale_num, 3, "a rejected value changes nothing");
        assert!(c.set_tracker_param("scale_lr", "fast").is_err());
        let steps = c.set_tracker_param("scale_vote_steps", "0").unwrap_err();
        assert!(format!("{steps:#}").contains("scale_vote_steps must be in 1..4"));
        assert_eq!(
            c.tracker.scale_vote_steps, 2,
            "the default: SiamFC's five scales"
        );
        assert_eq!(
            (c.tracker.target_support, c.tracker.target_solve_every),
            (0.0, 1),
            "the default: the target model's filter over the whole crop, solved on every sample"
        );
        for (key, value) in [
            ("target_support", "0.2"),
            ("target_support", "5"),
            ("target_solve_every", "0"),
        ] {
            let error = c.set_tracker_param(key, value).unwrap_err();
            assert!(
                format!("{error:#}").contains(key),
                "{key}={value}: {error:#}"
            );
        }
        c.set_tracker_param("target_support", "1").unwrap();
        c.set_tracker_param("target_solve_every", "2").unwrap();
    }

    #[test]
    fn confident_search_crop_sizes() {
        let mut c = ModelConfig::from_json(SIDECAR).unwrap();
        assert_eq!(c.confident_search_size(), c.search_size);
        c.set_tracker_param("confident_search_size", "191").unwrap();
        assert_eq!(c.confident_search_size(), 191);
        // 64 pixels less than the nominal 255 crop: 8 cells fewer on each of features and response.
        assert_eq!(c.feature_size_for(191), c.search_feature_size - 8);
        assert_eq!(c.response_size_for(191), c.response_size() - 8);
        for bad in ["190", "127", "263"] {
            let e = c
                .set_tracker_param("confident_search_size", bad)
                .unwrap_err();
            assert!(
                format!("{e:#}").contains("confident_search_size"),
                "{bad}: {e:#}"
            );
        }
    }

    #[test]
    fn onnx_path_is_relative_to_sidecar() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        std::fs::write(&path, SIDECAR).unwrap();
        let c = ModelConfig::load(dir.path().join("m.onnx")).unwrap();
        assert_eq!(c.onnx_path(), dir.path().join("test.onnx"));
    }
}
