//! The Siamese encoder: one ONNX graph embedding both the template and the search crops, run by ONNX Runtime.

use crate::config::ModelConfig;
use crate::paths::find_shipped;
use anyhow::{anyhow, bail, Context, Result};
use ndarray::{Array4, Ix4};
use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Where the encoder runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Device {
    #[default]
    Cpu,
    Cuda,
    Tensorrt,
}

#[derive(Clone, Debug, Default)]
pub struct EncoderOptions {
    pub device: Device,
    /// ONNX Runtime intra-op threads; 0 lets ONNX Runtime choose.
    pub threads: usize,
}

pub struct Encoder {
    session: Session,
    input_name: String,
    output_name: String,
}

/// The ONNX Runtime library: `ORT_DYLIB_PATH` when set (cargo sets it from .cargo/config.toml), else the copy that
/// scripts/setup.sh puts in `.ort/` of the source tree.
fn runtime_library() -> Result<PathBuf> {
    const RELATIVE: &str = ".ort/libonnxruntime.so.1.31.1";
    std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .or_else(|| find_shipped(RELATIVE))
        .ok_or_else(|| anyhow!("ONNX Runtime library {RELATIVE} not found: run scripts/setup.sh or set ORT_DYLIB_PATH"))
}

fn environment() -> Result<&'static Environment> {
    static ENVIRONMENT: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();
    ENVIRONMENT
        .get_or_init(|| {
            let library = runtime_library().map_err(|e| e.to_string())?;
            ort::init_from(&library)
                .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", library.display()))?
                .with_name("siamtrack")
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| anyhow!("{e}"))
}

impl Encoder {
    /// Loads the model's ONNX graph and checks that it produces the feature shapes its sidecar promises.
    pub fn load(model: &ModelConfig, options: &EncoderOptions) -> Result<Self> {
        let path = model.onnx_path();
        if !path.is_file() {
            bail!("model file {} not found", path.display());
        }
        let mut builder = Session::builder(environment()?)?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| anyhow!("{e}"))?;
        if options.threads > 0 {
            builder = builder
                .with_intra_threads(options.threads)
                .map_err(|e| anyhow!("{e}"))?;
        }
        builder = match options.device {
            Device::Cpu => builder,
            #[cfg(feature = "cuda")]
            Device::Cuda => builder
                .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
                .map_err(|e| anyhow!("{e}"))?,
            #[cfg(feature = "tensorrt")]
            Device::Tensorrt => builder
                .with_execution_providers([ort::ep::TensorRT::default().build().error_on_failure()])
                .map_err(|e| anyhow!("{e}"))?,
            #[allow(unreachable_patterns)]
            other => bail!(
                "this build has no {other:?} support: rebuild with `--features {}`",
                format!("{other:?}").to_lowercase()
            ),
        };
        let session = builder
            .commit_from_file(&path)
            .map_err(|e| anyhow!("{}: not a loadable ONNX model: {e}", path.display()))?;
        let mut encoder = Encoder {
            input_name: model.input_name.clone(),
            output_name: model.output_name.clone(),
            session,
        };
        encoder.check_contract(model).with_context(|| {
            format!(
                "model {} does not match its sidecar {}",
                path.display(),
                model.sidecar_path.display()
            )
        })?;
        Ok(encoder)
    }

    fn check_contract(&mut self, model: &ModelConfig) -> Result<()> {
        let inputs: Vec<&str> = self.session.inputs().iter().map(|i| i.name()).collect();
        if !inputs.contains(&self.input_name.as_str()) {
            bail!(
                "no input named {:?} (the graph has {inputs:?})",
                self.input_name
            );
        }
        let outputs: Vec<&str> = self.session.outputs().iter().map(|o| o.name()).collect();
        if !outputs.contains(&self.output_name.as_str()) {
            bail!(
                "no output named {:?} (the graph has {outputs:?})",
                self.output_name
            );
        }
        for (side, feature) in [
            (model.template_size, model.template_feature_size),
            (model.search_size, model.search_feature_size),
        ] {
            let side = side as usize;
            let features = self.embed(&Array4::zeros((1, 3, side, side)))?;
            let want = [1, model.channels, feature, feature];
            if features.shape() != want {
                bail!(
                    "a {side}x{side} input gives features of shape {:?}, the sidecar says {want:?}",
                    features.shape()
                );
            }
        }
        Ok(())
    }

    /// Embeds a normalised NCHW batch into NCHW features.
    pub fn embed(&mut self, batch: &Array4<f32>) -> Result<Array4<f32>> {
        let input = TensorRef::from_array_view(batch.view())?;
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => input])?;
        let features = outputs[self.output_name.as_str()]
            .try_extract_array::<f32>()?
            .into_dimensionality::<Ix4>()?
            .to_owned();
        Ok(features)
    }
}
