//! The model sidecar: everything the tracker needs to know about an encoder, read from `<name>.json` beside
//! `<name>.onnx`, and the tracker's parameters for it, nested by concern. Nothing model-specific is hard-coded
//! elsewhere.

use crate::error::{Error, Result};
pub use crate::image::ChannelOrder;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The models that ship inside the library: name, sidecar text and ONNX graph. The first is the default.
const SHIPPED: [(&str, &str, &[u8]); 2] = [
    (
        "effnet_lite0_s8_int8",
        include_str!("../../../models/effnet_lite0_s8_int8.json"),
        include_bytes!("../../../models/effnet_lite0_s8_int8.onnx"),
    ),
    (
        "effnet_lite0_s8",
        include_str!("../../../models/effnet_lite0_s8.json"),
        include_bytes!("../../../models/effnet_lite0_s8.onnx"),
    ),
];

/// Where a model's ONNX graph comes from.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum GraphSource {
    /// A file beside the sidecar (its `onnx` field).
    #[default]
    File,
    /// The bytes of a model shipped inside the library.
    Shipped(&'static [u8]),
}

/// An encoder and the tracker's parameters for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The ONNX file, relative to the sidecar.
    pub onnx: String,
    pub input_name: String,
    pub output_name: String,
    /// The channel order the encoder expects.
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
    /// The tracker's parameters; a sidecar may give them flat, under their former names (see [`FORMER_NAMES`]).
    #[serde(deserialize_with = "tracker_params_of_any_layout")]
    pub tracker: TrackerParams,
    /// A learned channel metric (`channels` rows of `channels` values, by `scripts/training/train_metric.py`): each template
    /// cell's features become `template_metric x cell`, so the Siamese response is a learned bilinear similarity
    /// instead of the plain dot product. Applied once to the templates at init; nothing per frame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_metric: Option<Vec<Vec<f32>>>,
    /// Where the sidecar was read from; the ONNX path resolves against it.
    #[serde(skip)]
    pub sidecar_path: PathBuf,
    #[serde(skip)]
    pub graph: GraphSource,
}

/// The tracker's parameters, one group per concern; every group and field has a default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackerParams {
    pub search: SearchParams,
    pub confidence: ConfidenceParams,
    pub recovery: RecoveryParams,
    pub target_model: TargetModelParams,
    pub scale: ScaleParams,
    pub colour: ColourParams,
    pub others: OthersParams,
}

/// The template, the search crop and how its response is read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchParams {
    /// Context margin around the target, as a share of (w + h).
    pub context: f64,
    /// Weight of the Hann window (cosine window) penalising large displacements.
    pub window_influence: f64,
    /// Upsampling factor of the response map.
    pub response_up: usize,
    /// When > 0, correlate only the central k x k cells of the template features.
    pub template_crop: usize,
    /// Weight each template cell by how much of it the first box covers, so that the background beside a thin or
    /// flat target (inside the square template window) does not take part in the match.
    pub template_box_mask: bool,
    /// Apply the sidecar's learned `template_metric` (when it has one); `false` correlates the plain features.
    pub learned_metric: bool,
    /// Side in pixels of the search crop while the target is held with confidence (the last frame `tracking`);
    /// an uncertain or lost target gets the full `search_size`. 0: always `search_size`. A smaller crop costs
    /// less encoder time and sees less of the frame around the target.
    pub confident_size: u32,
}

impl Default for SearchParams {
    fn default() -> Self {
        Self {
            context: 0.5,
            window_influence: 0.204,
            response_up: 16,
            template_crop: 0,
            template_box_mask: true,
            learned_metric: true,
            confident_size: 0,
        }
    }
}

/// What the confidence says: the states a track is in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfidenceParams {
    /// Confidence below which a track is `uncertain`. Defaults as measured on dev in docs/confidence.md.
    pub uncertain_below: f64,
    /// Confidence below which a frame is too weak to trust.
    pub lost_below: f64,
    /// Consecutive weak frames after which the target is lost and the recovery scan starts.
    pub lost_after: u32,
}

impl Default for ConfidenceParams {
    fn default() -> Self {
        Self {
            uncertain_below: 0.3,
            lost_below: 0.1,
            lost_after: 10,
        }
    }
}

/// The scan for a lost target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecoveryParams {
    /// Confidence a recovery scan needs to take the target back.
    pub recover_above: f64,
    /// Growth of the recovery search region per lost frame.
    pub search_growth: f64,
    /// Search crops embedded per frame while scanning for a lost target (bounds the cost of a lost frame).
    pub max_scan_tiles: usize,
    /// Target sizes, relative to the last one, that the scan tries.
    pub scan_scales: Vec<f64>,
}

impl Default for RecoveryParams {
    fn default() -> Self {
        Self {
            recover_above: 0.4,
            search_growth: 1.5,
            max_scan_tiles: 2,
            scan_scales: vec![0.8, 1.0, 1.25],
        }
    }
}

/// The discriminative target model learned online on the encoder's features.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TargetModelParams {
    /// Weight of its response in the fused map that places the box (0: no target model, the Siamese response
    /// alone). Both maps are in units of the first frame's self-match.
    pub weight: f64,
    /// Gaussian label spread, as a share of the target's side (per axis).
    pub sigma: f64,
    /// Ridge term, relative to the first frame's mean spectral energy.
    pub lambda: f64,
    /// Extent of the filter as a multiple of the target's box (as in CSR-DCF and BACF): the filter weighs only
    /// the target, not the context around it. 0: the whole search crop (KCF, DSST).
    pub support: f64,
    /// Confident frames between two solves (each frame's sample joins the support set; the filter is solved anew
    /// at every `solve_every`-th, as ECO does).
    pub solve_every: usize,
    /// Samples kept (the first frame's among them).
    pub memory: usize,
    /// Weight of each new sample; older ones decay by (1 - rate). 0: the first frame only.
    pub learning_rate: f64,
    /// Least share of the model's weight held by the first frame.
    pub first_weight: f64,
    /// Cells between the model's own peak and the chosen place within which the two agree. A frame teaches the
    /// model only when it is `tracking` and the two agree; a re-detected candidate needs their agreement too.
    pub agreement: f64,
}

impl Default for TargetModelParams {
    fn default() -> Self {
        Self {
            weight: 0.25,
            sigma: 0.1,
            lambda: 0.01,
            support: 1.0,
            solve_every: 2,
            memory: 8,
            learning_rate: 0.05,
            first_weight: 0.5,
            agreement: 1.5,
        }
    }
}

/// The box's size: the proposals (the search crops' scales, the templates' vote, the scale filter), their
/// damping and the bounds of the result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScaleParams {
    /// Number of scaled search crops (odd), batched into one encoder run; SiamFC's scale search.
    pub search_scales: usize,
    /// Ratio between neighbouring scales of the search crops and of the vote's templates.
    pub step: f64,
    /// Multiplies the match of a scaled crop or template (SiamFC's scale penalty).
    pub penalty: f64,
    /// Share of a proposed size change taken per frame.
    pub damping: f64,
    /// With one search crop: templates of the target shrunk and grown by powers of `step` vote on its size at the
    /// located place, on frames where the template is confident (`uncertain_below`).
    pub vote: bool,
    /// Steps of `step` each way in the vote: 1 gives SiamFC-3s's three scales, 2 SiamFC's five.
    pub vote_steps: u32,
    /// The box never shrinks below / grows beyond these multiples of its initial size.
    pub min_ratio: f64,
    pub max_ratio: f64,
    /// Smallest width or height in pixels.
    pub min_px: f64,
    pub filter: ScaleFilterParams,
}

impl Default for ScaleParams {
    fn default() -> Self {
        Self {
            search_scales: 1,
            step: 1.0683,
            penalty: 0.9702,
            damping: 0.307,
            vote: true,
            vote_steps: 2,
            min_ratio: 0.2,
            max_ratio: 5.0,
            min_px: 4.0,
            filter: ScaleFilterParams::default(),
        }
    }
}

/// The DSST-style scale filter that sizes the box once the search has placed it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScaleFilterParams {
    /// Scales in the filter's ladder (0: no filter).
    pub scales: usize,
    /// Ratio between neighbouring scales of the ladder.
    pub step: f64,
    /// Weight of each frame that is not weak in the filter.
    pub learning_rate: f64,
    /// Pixels of each resized patch.
    pub area: f64,
}

impl Default for ScaleFilterParams {
    fn default() -> Self {
        Self {
            scales: 17,
            step: 1.03,
            learning_rate: 0.025,
            area: 512.0,
        }
    }
}

/// The colour model of the target against its surroundings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColourParams {
    /// Weight of its response (the mean target probability of its colours over a box-sized window) in the fused
    /// map; 0: no colour model.
    pub weight: f64,
    /// Weight of each frame that is not weak in its histograms.
    pub learning_rate: f64,
}

impl Default for ColourParams {
    fn default() -> Self {
        Self {
            weight: 0.3,
            learning_rate: 0.04,
        }
    }
}

/// The other targets held in the same frames (several targets at once), each a known distractor of this one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OthersParams {
    /// How much better (in units of its own first-frame self-match) another target's template must match a place
    /// inside its box than this target's own template for this target's map to be muted there.
    pub margin: f64,
}

impl Default for OthersParams {
    fn default() -> Self {
        Self { margin: 0.15 }
    }
}

/// The flat names the tracker's parameters had in earlier sidecars (and `--set`), with their places now. A
/// sidecar whose `tracker` holds any of them is read as the flat layout.
pub const FORMER_NAMES: [(&str, &str); 37] = [
    ("context", "search.context"),
    ("window_influence", "search.window_influence"),
    ("response_up", "search.response_up"),
    ("template_crop", "search.template_crop"),
    ("template_box_mask", "search.template_box_mask"),
    ("learned_metric", "search.learned_metric"),
    ("confident_search_size", "search.confident_size"),
    ("uncertain_below", "confidence.uncertain_below"),
    ("lost_below", "confidence.lost_below"),
    ("lost_after", "confidence.lost_after"),
    ("recover_above", "recovery.recover_above"),
    ("search_growth", "recovery.search_growth"),
    ("max_scan_tiles", "recovery.max_scan_tiles"),
    ("scan_scales", "recovery.scan_scales"),
    ("target_weight", "target_model.weight"),
    ("target_sigma", "target_model.sigma"),
    ("target_lambda", "target_model.lambda"),
    ("target_support", "target_model.support"),
    ("target_solve_every", "target_model.solve_every"),
    ("target_memory", "target_model.memory"),
    ("target_learning_rate", "target_model.learning_rate"),
    ("target_first_weight", "target_model.first_weight"),
    ("target_agreement", "target_model.agreement"),
    ("colour_weight", "colour.weight"),
    ("colour_learning_rate", "colour.learning_rate"),
    ("scale_num", "scale.search_scales"),
    ("scale_step", "scale.step"),
    ("scale_penalty", "scale.penalty"),
    ("scale_lr", "scale.damping"),
    ("scale_vote", "scale.vote"),
    ("scale_vote_steps", "scale.vote_steps"),
    ("min_size_ratio", "scale.min_ratio"),
    ("max_size_ratio", "scale.max_ratio"),
    ("min_size_px", "scale.min_px"),
    ("scale_filter_scales", "scale.filter.scales"),
    ("scale_filter_step", "scale.filter.step"),
    ("scale_filter_learning_rate", "scale.filter.learning_rate"),
];

/// What a flat sidecar's missing fields meant: the defaults of that layout (the nested groups' defaults are the
/// shipped tracker's instead). The fields it required have none.
const FORMER_DEFAULTS: [(&str, &str); 27] = [
    ("template_crop", "0"),
    ("template_box_mask", "false"),
    ("learned_metric", "true"),
    ("confident_search_size", "0"),
    ("uncertain_below", "0.5"),
    ("lost_below", "0.15"),
    ("lost_after", "10"),
    ("recover_above", "0.6"),
    ("search_growth", "1.5"),
    ("max_scan_tiles", "9"),
    ("scan_scales", "[0.8, 1.0, 1.25]"),
    ("target_weight", "0.0"),
    ("target_sigma", "0.1"),
    ("target_lambda", "0.01"),
    ("target_support", "0.0"),
    ("target_solve_every", "1"),
    ("target_memory", "8"),
    ("target_learning_rate", "0.05"),
    ("target_first_weight", "0.5"),
    ("target_agreement", "1.5"),
    ("colour_weight", "0.0"),
    ("colour_learning_rate", "0.04"),
    ("scale_vote", "false"),
    ("scale_vote_steps", "2"),
    ("scale_filter_scales", "0"),
    ("scale_filter_step", "1.03"),
    ("scale_filter_learning_rate", "0.025"),
];

/// Former names that no longer take effect: the box head's rate and the first sidecars' response calibration.
const RETIRED_NAMES: [&str; 3] = ["size_lr", "response_bias", "response_scale"];

/// A parameter's place in the tree (`scale.filter.step`) from its place or its former flat name.
fn parameter_path(key: &str) -> &str {
    match key {
        "scale_filter_area" => "scale.filter.area",
        _ => FORMER_NAMES
            .iter()
            .find(|(former, _)| *former == key)
            .map_or(key, |(_, path)| path),
    }
}

/// Nests a flat `tracker` object of an earlier sidecar; a nested one is returned as it is.
fn nest_former_layout(flat: Value) -> std::result::Result<Value, String> {
    let Value::Object(fields) = flat else {
        return Err("tracker must be an object".into());
    };
    let groups = [
        "search",
        "confidence",
        "recovery",
        "target_model",
        "scale",
        "colour",
        "others",
    ];
    if fields.keys().all(|k| groups.contains(&k.as_str())) {
        return Ok(Value::Object(fields));
    }
    let mut nested = Value::Object(Default::default());
    let mut fields = fields;
    for (key, value) in FORMER_DEFAULTS {
        if !fields.contains_key(key) {
            fields.insert(
                key.into(),
                serde_json::from_str(value).expect("former defaults are JSON"),
            );
        }
    }
    for (key, value) in fields {
        if RETIRED_NAMES.contains(&key.as_str()) {
            continue;
        }
        let path = parameter_path(&key);
        if path == key {
            return Err(format!("unknown tracker parameter {key:?}"));
        }
        place(&mut nested, path, value);
    }
    Ok(nested)
}

/// Sets `value` at a dotted `path` of `tree`, making the groups on the way.
fn place(tree: &mut Value, path: &str, value: Value) {
    let mut node = tree;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let fields = node.as_object_mut().expect("groups are objects");
        if parts.peek().is_none() {
            fields.insert(part.to_string(), value);
            return;
        }
        node = fields
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Default::default()));
    }
}

fn tracker_params_of_any_layout<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<TrackerParams, D::Error> {
    let value = Value::deserialize(deserializer)?;
    let nested = nest_former_layout(value).map_err(serde::de::Error::custom)?;
    TrackerParams::deserialize(nested).map_err(serde::de::Error::custom)
}

impl ModelConfig {
    /// The names of the models shipped inside the library, the default first.
    pub const SHIPPED: [&'static str; 2] = [SHIPPED[0].0, SHIPPED[1].0];

    /// The default model, shipped inside the library: it opens from anywhere, with no file.
    ///
    /// ```
    /// let model = siamtrack_core::ModelConfig::shipped();
    /// assert_eq!(model.name, "effnet_lite0_s8_int8");
    /// ```
    pub fn shipped() -> Self {
        Self::shipped_named(Self::SHIPPED[0]).expect("the default model is shipped")
    }

    /// A model shipped inside the library, by name (see [`ModelConfig::SHIPPED`]).
    pub fn shipped_named(name: &str) -> Option<Self> {
        let (_, sidecar, graph) = SHIPPED.iter().find(|(n, _, _)| *n == name)?;
        let mut model = Self::from_json(sidecar).expect("shipped sidecars are valid");
        model.sidecar_path = PathBuf::from(format!("{name}.json"));
        model.graph = GraphSource::Shipped(graph);
        Some(model)
    }

    /// Reads a sidecar. `path` may name the `.json` or the `.onnx` beside it.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let sidecar = if path.extension().is_some_and(|e| e == "onnx") {
            path.with_extension("json")
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&sidecar).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::ModelNotFound(sidecar.clone()),
            _ => Error::Model(format!(
                "cannot read model sidecar {}: {e}",
                sidecar.display()
            )),
        })?;
        let mut config = Self::from_json(&text).map_err(|e| {
            Error::Model(format!("invalid model sidecar {}: {e}", sidecar.display()))
        })?;
        config.sidecar_path = sidecar;
        Ok(config)
    }

    pub fn from_json(text: &str) -> Result<Self> {
        let config: ModelConfig =
            serde_json::from_str(text).map_err(|e| Error::Model(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Overrides one tracker parameter, named by its place (`scale.filter.step`) or its former flat name
    /// (`scale_filter_step`), e.g. `("search.window_influence", "0.3")`, and re-validates; a rejected value
    /// changes nothing.
    pub fn set_tracker_param(&mut self, key: &str, value: &str) -> Result<()> {
        self.set_tracker_params(&[(key, value)])
    }

    /// Overrides several tracker parameters at once (see [`ModelConfig::set_tracker_param`]); the error names
    /// every bad one, a line each, and a rejected set changes nothing.
    pub fn set_tracker_params(&mut self, settings: &[(&str, &str)]) -> Result<()> {
        let mut params = serde_json::to_value(&self.tracker).expect("parameters serialise");
        let mut problems = Vec::new();
        for &(key, value) in settings {
            let path = parameter_path(key);
            let bad = |reason: String| Error::Parameter {
                field: path.to_string(),
                reason,
            };
            let known = path
                .split('.')
                .try_fold(&params, |node, part| node.get(part))
                .is_some_and(|node| !node.is_object());
            if !known {
                problems.push(bad(
                    "unknown (the groups: search, confidence, recovery, target_model, scale, scale.filter, colour, \
                     others; docs/parameters.md lists their fields)"
                        .to_string(),
                ));
                continue;
            }
            match serde_json::from_str::<Value>(value) {
                Ok(value) => place(&mut params, path, value),
                Err(_) => problems.push(bad(format!(
                    "{value:?} is not a number, true/false or a list"
                ))),
            }
        }
        all_of(problems)?;
        let tracker = TrackerParams::deserialize(params)
            .map_err(|e| Error::Model(format!("tracker parameters: {e}")))?;
        let next = Self {
            tracker,
            ..self.clone()
        };
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// The ONNX file of a model read from a sidecar.
    pub fn onnx_path(&self) -> PathBuf {
        self.sidecar_path
            .parent()
            .unwrap_or(Path::new("."))
            .join(&self.onnx)
    }

    /// Side of the correlated template feature window.
    pub fn template_window(&self) -> usize {
        match self.tracker.search.template_crop {
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
        match self.tracker.search.confident_size {
            0 => self.search_size,
            side => side,
        }
    }

    fn validate(&self) -> Result<()> {
        let model = |reason: String| Err(Error::Model(reason));
        if self.template_size == 0 || self.search_size <= self.template_size {
            return model(format!(
                "search_size ({}) must exceed template_size ({})",
                self.search_size, self.template_size
            ));
        }
        if self.total_stride == 0 || self.channels == 0 {
            return model("total_stride and channels must be positive".into());
        }
        // Bounds that keep a hostile or mistyped sidecar from asking for absurd allocations.
        if self.search_size > 4096 || self.search_feature_size > 1024 || self.channels > 4096 {
            return model(
                "search_size (at most 4096), search_feature_size (1024) or channels (4096) too large"
                    .into(),
            );
        }
        if self.std.iter().any(|s| *s <= 0.0 || !s.is_finite()) {
            return model(format!("std values must be positive, got {:?}", self.std));
        }
        if self.template_window() == 0
            || self.template_window() > self.template_feature_size
            || self.template_window() > self.search_feature_size
        {
            return Err(out_of_range(
                "search.template_crop",
                format!(
                    "the template window {} must fit the template ({}) and search ({}) features",
                    self.template_window(),
                    self.template_feature_size,
                    self.search_feature_size
                ),
            ));
        }
        if let Some(metric) = &self.template_metric {
            if metric.len() != self.channels
                || metric
                    .iter()
                    .any(|row| row.len() != self.channels || row.iter().any(|v| !v.is_finite()))
            {
                return model(format!(
                    "template_metric must be {0} rows of {0} finite values (one per channel)",
                    self.channels
                ));
            }
        }
        let confident = self.confident_search_size();
        if confident > self.search_size
            || confident <= self.template_size
            || !(self.search_size - confident).is_multiple_of(self.total_stride)
            || self.feature_size_for(confident) < self.template_window()
        {
            return Err(out_of_range(
                "search.confident_size",
                format!(
                    "{confident} must lie between template_size ({}) and search_size ({}), a multiple of \
                     total_stride ({}) below search_size",
                    self.template_size, self.search_size, self.total_stride
                ),
            ));
        }
        if self.response_size() * self.tracker.search.response_up > 2048 {
            return Err(out_of_range(
                "search.response_up",
                format!(
                    "the upsampled response ({} x {}) must be at most 2048 wide",
                    self.response_size(),
                    self.tracker.search.response_up
                ),
            ));
        }
        self.tracker.validate()
    }
}

fn out_of_range(field: &str, reason: String) -> Error {
    Error::Parameter {
        field: field.to_string(),
        reason,
    }
}

/// The fields of `group` whose check `(field, ok, range)` fails, each with its range.
fn check(group: &str, checks: &[(&str, bool, &str)]) -> Vec<Error> {
    checks
        .iter()
        .filter(|(_, ok, _)| !ok)
        .map(|(field, _, range)| {
            out_of_range(&format!("{group}.{field}"), format!("must be {range}"))
        })
        .collect()
}

/// No error, one, or one naming every bad field.
fn all_of(mut errors: Vec<Error>) -> Result<()> {
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(Error::Parameters(errors)),
    }
}

fn unit(v: f64) -> bool {
    (0.0..=1.0).contains(&v)
}

impl TrackerParams {
    /// Checks every group; the error names each field out of its range.
    pub fn validate(&self) -> Result<()> {
        all_of(
            [
                self.search.problems(),
                self.confidence.problems(),
                self.recovery.problems(),
                self.target_model.problems(),
                self.scale.problems(),
                self.colour.problems(),
                self.others.problems(),
            ]
            .into_iter()
            .flatten()
            .collect(),
        )
    }
}

impl SearchParams {
    /// Checks the group; the error names each field out of its range.
    pub fn validate(&self) -> Result<()> {
        all_of(self.problems())
    }

    fn problems(&self) -> Vec<Error> {
        check(
            "search",
            &[
                (
                    "context",
                    self.context >= 0.0 && self.context <= 10.0,
                    "in 0..10",
                ),
                ("window_influence", unit(self.window_influence), "in 0..1"),
                (
                    "response_up",
                    (1..=64).contains(&self.response_up),
                    "in 1..64",
                ),
            ],
        )
    }
}

impl ConfidenceParams {
    /// Checks the group; the error names each field out of its range.
    pub fn validate(&self) -> Result<()> {
        all_of(self.problems())
    }

    fn problems(&self) -> Vec<Error> {
        check(
            "confidence",
            &[
                ("uncertain_below", unit(self.uncertain_below), "in 0..1"),
                (
                    "lost_below",
                    self.lost_below >= 0.0 && self.lost_below <= self.uncertain_below,
                    "in 0..uncertain_below",
                ),
                ("lost_after", self.lost_after >= 1, "at least 1"),
            ],
        )
    }
}

impl RecoveryParams {
    /// Checks the group; the error names each field out of its range.
    pub fn validate(&self) -> Result<()> {
        all_of(self.problems())
    }

    fn problems(&self) -> Vec<Error> {
        let scales_ok = !self.scan_scales.is_empty()
            && self.scan_scales.len() <= 8
            && self.scan_scales.iter().all(|s| (0.1..=10.0).contains(s));
        check(
            "recovery",
            &[
                ("recover_above", unit(self.recover_above), "in 0..1"),
                (
                    "search_growth",
                    self.search_growth >= 1.0 && self.search_growth <= 100.0,
                    "in 1..100",
                ),
                (
                    "max_scan_tiles",
                    (1..=256).contains(&self.max_scan_tiles),
                    "in 1..256",
                ),
                ("scan_scales", scales_ok, "1 to 8 values in 0.1..10"),
            ],
        )
    }
}

impl TargetModelParams {
    /// Checks the group; the error names each field out of its range.
    pub fn validate(&self) -> Result<()> {
        all_of(self.problems())
    }

    fn problems(&self) -> Vec<Error> {
        check(
            "target_model",
            &[
                ("weight", unit(self.weight), "in 0..1"),
                (
                    "sigma",
                    self.sigma > 0.0 && self.sigma <= 10.0,
                    "in (0, 10]",
                ),
                (
                    "lambda",
                    self.lambda > 0.0 && self.lambda.is_finite(),
                    "positive",
                ),
                (
                    "support",
                    self.support == 0.0 || (0.5..=4.0).contains(&self.support),
                    "0 or in 0.5..4",
                ),
                (
                    "solve_every",
                    (1..=16).contains(&self.solve_every),
                    "in 1..16",
                ),
                ("memory", (1..=64).contains(&self.memory), "in 1..64"),
                ("learning_rate", unit(self.learning_rate), "in 0..1"),
                ("first_weight", unit(self.first_weight), "in 0..1"),
                (
                    "agreement",
                    self.agreement >= 0.0 && self.agreement.is_finite(),
                    ">= 0",
                ),
            ],
        )
    }
}

impl ScaleParams {
    /// Checks the group; the error names each field out of its range.
    pub fn validate(&self) -> Result<()> {
        all_of(self.problems())
    }

    fn problems(&self) -> Vec<Error> {
        let mut problems = check(
            "scale",
            &[
                (
                    "search_scales",
                    self.search_scales % 2 == 1 && self.search_scales <= 15,
                    "odd, at most 15",
                ),
                ("step", self.step >= 1.0 && self.step <= 2.0, "in 1..2"),
                ("penalty", unit(self.penalty), "in 0..1"),
                ("damping", unit(self.damping), "in 0..1"),
                ("vote_steps", (1..=4).contains(&self.vote_steps), "in 1..4"),
                (
                    "min_ratio",
                    self.min_ratio > 0.0 && self.min_ratio <= 1.0,
                    "in (0, 1]",
                ),
                (
                    "max_ratio",
                    self.max_ratio >= 1.0 && self.max_ratio <= 100.0,
                    "in 1..100",
                ),
                (
                    "min_px",
                    self.min_px >= 1.0 && self.min_px <= 64.0,
                    "in 1..64",
                ),
            ],
        );
        let f = &self.filter;
        problems.extend(check(
            "scale.filter",
            &[
                ("scales", f.scales <= 65, "at most 65"),
                ("step", f.step >= 1.0 && f.step <= 2.0, "in 1..2"),
                ("learning_rate", unit(f.learning_rate), "in 0..1"),
                ("area", (16.0..=16384.0).contains(&f.area), "in 16..16384"),
            ],
        ));
        problems
    }
}

impl ColourParams {
    /// Checks the group; the error names each field out of its range.
    pub fn validate(&self) -> Result<()> {
        all_of(self.problems())
    }

    fn problems(&self) -> Vec<Error> {
        check(
            "colour",
            &[
                ("weight", unit(self.weight), "in 0..1"),
                ("learning_rate", unit(self.learning_rate), "in 0..1"),
            ],
        )
    }
}

impl OthersParams {
    /// Checks the group; the error names each field out of its range.
    pub fn validate(&self) -> Result<()> {
        all_of(self.problems())
    }

    fn problems(&self) -> Vec<Error> {
        check("others", &[("margin", unit(self.margin), "in 0..1")])
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
        "tracker": {"search": {"context": 0.5, "window_influence": 0.176},
                    "scale": {"search_scales": 3, "step": 1.0375, "penalty": 0.9745, "damping": 0.59}}
    }"#;

    /// The same in the flat layout of earlier sidecars.
    const FLAT_SIDECAR: &str = r#"{
        "name": "test", "onnx": "test.onnx", "input_name": "input", "output_name": "features",
        "channel_order": "rgb", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
        "template_size": 127, "search_size": 255, "total_stride": 8, "channels": 40,
        "template_feature_size": 16, "search_feature_size": 32,
        "tracker": {"context": 0.5, "scale_num": 3, "scale_step": 1.0375, "scale_penalty": 0.9745,
                    "scale_lr": 0.59, "window_influence": 0.176, "response_up": 16, "size_lr": 0.5}
    }"#;

    #[test]
    fn parses_sidecar_with_defaults() {
        let c = ModelConfig::from_json(SIDECAR).unwrap();
        assert_eq!(c.channel_order, ChannelOrder::Rgb);
        assert_eq!(c.tracker.search.template_crop, 0);
        assert_eq!(c.tracker.scale.min_ratio, 0.2);
        assert_eq!(c.tracker.scale.max_ratio, 5.0);
        assert_eq!(c.response_size(), 17);
    }

    #[test]
    fn flat_sidecars_are_read_into_the_groups() {
        let flat = ModelConfig::from_json(FLAT_SIDECAR).unwrap().tracker;
        assert_eq!(
            (
                flat.search.window_influence,
                flat.scale.search_scales,
                flat.scale.damping
            ),
            (0.176, 3, 0.59)
        );
        // Missing fields mean what they meant in that layout.
        assert_eq!(
            (
                flat.confidence.uncertain_below,
                flat.target_model.weight,
                flat.scale.vote
            ),
            (0.5, 0.0, false)
        );
        let unknown = ModelConfig::from_json(&FLAT_SIDECAR.replace("size_lr", "size_rate"));
        assert!(unknown
            .unwrap_err()
            .to_string()
            .contains("unknown tracker parameter \"size_rate\""));
        // Every shipped sidecar in the repository reads.
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
        for entry in std::fs::read_dir(models).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                ModelConfig::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            }
        }
    }

    #[test]
    fn the_shipped_models_open_without_files() {
        for name in ModelConfig::SHIPPED {
            let model = ModelConfig::shipped_named(name).unwrap();
            assert!(matches!(model.graph, GraphSource::Shipped(bytes) if bytes.len() > 100_000));
        }
        assert!(ModelConfig::shipped_named("nanotrack").is_none());
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
        let mut c = ModelConfig::from_json(SIDECAR).unwrap();
        c.set_tracker_param("search.template_crop", "8").unwrap();
        assert_eq!(c.template_window(), 8);
        assert_eq!(c.response_size(), 25);
    }

    #[test]
    fn rejects_missing_and_wrong_fields() {
        let missing = ModelConfig::from_json(&SIDECAR.replace("\"channels\": 40,", ""));
        assert!(missing
            .unwrap_err()
            .to_string()
            .contains("missing field `channels`"));
        let even = ModelConfig::from_json(
            &SIDECAR.replace("\"search_scales\": 3", "\"search_scales\": 2"),
        );
        assert_eq!(
            even.unwrap_err().to_string(),
            "tracker parameter scale.search_scales: must be odd, at most 15"
        );
        let order = ModelConfig::from_json(&SIDECAR.replace("\"rgb\"", "\"rbg\""));
        assert!(order
            .unwrap_err()
            .to_string()
            .contains("unknown variant `rbg`"));
        let stray = ModelConfig::from_json(&SIDECAR.replace("\"context\"", "\"contxt\""));
        assert!(stray
            .unwrap_err()
            .to_string()
            .contains("unknown field `contxt`"));
    }

    #[test]
    fn tracker_params_can_be_overridden_by_place_or_former_name() {
        let mut c = ModelConfig::from_json(SIDECAR).unwrap();
        c.set_tracker_param("search.window_influence", "0.3")
            .unwrap();
        c.set_tracker_param("template_crop", "8").unwrap();
        c.set_tracker_param("scale.filter.step", "1.05").unwrap();
        assert_eq!(
            (
                c.tracker.search.window_influence,
                c.tracker.search.template_crop,
                c.tracker.scale.filter.step
            ),
            (0.3, 8, 1.05)
        );
        let unknown = c
            .set_tracker_param("window", "0.3")
            .unwrap_err()
            .to_string();
        assert!(
            unknown.starts_with("tracker parameter window: unknown"),
            "{unknown}"
        );
        let group = c.set_tracker_param("scale", "1").unwrap_err().to_string();
        let several = c
            .set_tracker_params(&[
                ("context", "1e6"),
                ("scale.step", "5"),
                ("colour.weight", "0.5"),
            ])
            .unwrap_err()
            .to_string();
        assert_eq!(
            several,
            "tracker parameter search.context: must be in 0..10\ntracker parameter scale.step: must be in 1..2"
        );
        assert!(
            group.starts_with("tracker parameter scale: unknown"),
            "{group}"
        );
        assert!(c.set_tracker_param("scale_num", "4").is_err());
        assert_eq!(
            c.tracker.scale.search_scales, 3,
            "a rejected value changes nothing"
        );
        assert!(c.set_tracker_param("scale_lr", "fast").is_err());
        for (key, value, field) in [
            ("scale_vote_steps", "0", "scale.vote_steps"),
            ("target_support", "0.2", "target_model.support"),
            ("target_model.support", "5", "target_model.support"),
            ("target_solve_every", "0", "target_model.solve_every"),
            ("context", "1e6", "search.context"),
            ("lost_below", "0.5", "confidence.lost_below"),
            ("others.margin", "-0.1", "others.margin"),
        ] {
            let error = c.set_tracker_param(key, value).unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("tracker parameter {field}: must be")),
                "{key}={value}: {error}"
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
                e.to_string().contains("search.confident_size"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn onnx_path_is_relative_to_sidecar() {
        let dir = std::env::temp_dir().join(format!("siamtrack-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.json");
        std::fs::write(&path, SIDECAR).unwrap();
        let c = ModelConfig::load(dir.join("m.onnx")).unwrap();
        assert_eq!(c.onnx_path(), dir.join("test.onnx"));
        let missing = ModelConfig::load(dir.join("none.json")).unwrap_err();
        assert!(matches!(missing, Error::ModelNotFound(ref p) if p == &dir.join("none.json")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
