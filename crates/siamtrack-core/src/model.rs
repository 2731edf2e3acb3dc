//! The Siamese encoder: one ONNX graph embedding both the template and the search crops, run by ONNX Runtime,
//! which is loaded at run time from a library the caller names (or `ORT_DYLIB_PATH`).

use crate::config::{GraphSource, ModelConfig};
use crate::error::{Error, Result};
use ndarray::{Array4, Ix4};
use ort::environment::Environment;
use ort::ep::ExecutionProviderDispatch;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

/// Where the encoder runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Device {
    #[default]
    Cpu,
    /// ONNX Runtime's CUDA execution provider (the GPU build of ONNX Runtime and NVIDIA's libraries).
    Cuda,
    /// ONNX Runtime's TensorRT execution provider.
    Tensorrt,
}

impl Device {
    pub fn name(self) -> &'static str {
        match self {
            Device::Cpu => "the CPU",
            Device::Cuda => "CUDA",
            Device::Tensorrt => "TensorRT",
        }
    }

    /// ONNX Runtime's execution provider for the device, failing when it cannot be registered; `None` for the
    /// CPU, which every session has.
    fn execution_provider(self) -> Option<ExecutionProviderDispatch> {
        match self {
            Device::Cpu => None,
            Device::Cuda => Some(ort::ep::CUDA::default().build().error_on_failure()),
            Device::Tensorrt => Some(ort::ep::TensorRT::default().build().error_on_failure()),
        }
    }
}

impl FromStr for Device {
    type Err = String;

    /// `cpu`, `cuda` or `tensorrt`.
    fn from_str(name: &str) -> std::result::Result<Self, String> {
        match name.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda),
            "tensorrt" => Ok(Device::Tensorrt),
            _ => Err(format!("unknown device {name:?} (cpu, cuda or tensorrt)")),
        }
    }
}

/// How the encoder runs.
///
/// ```
/// use siamtrack_core::{Device, EncoderOptions};
/// let options = EncoderOptions { device: "cuda".parse().unwrap(), threads: 2, ..Default::default() };
/// assert_eq!(options.device, Device::Cuda);
/// // Without the GPU build of ONNX Runtime, the same options on the CPU, and why:
/// let (usable, reason) = options.or_cpu().unwrap();
/// assert!(usable.device == Device::Cuda || reason.is_some());
/// ```
#[derive(Clone, Debug, Default)]
pub struct EncoderOptions {
    pub device: Device,
    /// ONNX Runtime intra-op threads; 0 lets ONNX Runtime choose (all cores).
    pub threads: usize,
    /// Whether ONNX Runtime's worker threads spin between runs. Spinning shaves a wake-up off each run but
    /// keeps a core busy, which a decoding thread then waits for.
    pub spinning: bool,
}

impl EncoderOptions {
    /// These options, or when their device's execution provider cannot be registered with the ONNX Runtime
    /// library in use (a CPU-only library, missing CUDA or TensorRT libraries, no GPU), the same on the CPU, with
    /// the reason.
    pub fn or_cpu(self) -> Result<(Self, Option<String>)> {
        let Some(provider) = self.device.execution_provider() else {
            return Ok((self, None));
        };
        match Session::builder(environment()?)?.with_execution_providers([provider]) {
            Ok(_) => Ok((self, None)),
            Err(e) => {
                let reason = format!(
                    "{} is not available ({e}): the ONNX Runtime library in use lacks it, or cannot load the \
                     libraries it needs",
                    self.device.name()
                );
                let cpu = Self {
                    device: Device::Cpu,
                    ..self
                };
                Ok((cpu, Some(reason)))
            }
        }
    }
}

/// The ONNX Runtime library named by [`set_runtime_library`].
static RUNTIME_LIBRARY: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Names the ONNX Runtime library (`libonnxruntime.so...`) the encoder loads; without it, `ORT_DYLIB_PATH`. Only
/// the first encoder loads the library, so this must come before it (an error after, unless the path is the
/// same).
pub fn set_runtime_library(path: impl Into<PathBuf>) -> Result<()> {
    let path = path.into();
    let mut named = RUNTIME_LIBRARY.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(Ok(_)) = ENVIRONMENT.get() {
        if named.as_ref() != Some(&path) {
            return Err(Error::Runtime(format!(
                "ONNX Runtime is already loaded; {} would need a new process",
                path.display()
            )));
        }
    }
    *named = Some(path);
    Ok(())
}

fn runtime_library() -> Result<PathBuf> {
    let named = RUNTIME_LIBRARY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    named
        .or_else(|| std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from))
        .ok_or_else(|| {
            Error::Runtime(
                "no ONNX Runtime library named: call set_runtime_library or set ORT_DYLIB_PATH"
                    .into(),
            )
        })
}

static ENVIRONMENT: OnceLock<std::result::Result<Environment, String>> = OnceLock::new();

fn environment() -> Result<&'static Environment> {
    ENVIRONMENT
        .get_or_init(|| {
            let library = runtime_library().map_err(|e| e.to_string())?;
            if !library.is_file() {
                return Err(format!(
                    "ONNX Runtime library {} not found",
                    library.display()
                ));
            }
            ort::init_from(&library)
                .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", library.display()))?
                .with_name("siamtrack")
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Runtime(e.clone()))
}

/// The Siamese encoder: crops [N, 3, H, W] to features [N, C, h, w], one ONNX graph with one 4-D float input and
/// one 4-D float output, as the sidecar names them.
pub struct Encoder {
    session: Session,
    input_name: String,
    output_name: String,
}

impl Encoder {
    /// Loads the model's ONNX graph and checks that it produces the feature shapes its sidecar promises.
    pub fn load(model: &ModelConfig, options: &EncoderOptions) -> Result<Self> {
        let where_from = match model.graph {
            GraphSource::File => model.onnx_path().display().to_string(),
            GraphSource::Shipped(_) => format!("the shipped model {}", model.name),
        };
        let mut builder = Session::builder(environment()?)?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| Error::Runtime(e.to_string()))?;
        if options.threads > 0 {
            builder = builder
                .with_intra_threads(options.threads)
                .map_err(|e| Error::Runtime(e.to_string()))?;
        }
        builder = builder
            .with_intra_op_spinning(options.spinning)
            .map_err(|e| Error::Runtime(e.to_string()))?;
        if let Some(provider) = options.device.execution_provider() {
            builder = builder.with_execution_providers([provider]).map_err(|e| {
                Error::Runtime(format!("cannot use {}: {e}", options.device.name()))
            })?;
        }
        let committed = match model.graph {
            GraphSource::File => {
                let path = model.onnx_path();
                if !path.is_file() {
                    return Err(Error::ModelNotFound(path));
                }
                builder.commit_from_file(&path)
            }
            GraphSource::Shipped(bytes) => builder.commit_from_memory(bytes),
        };
        let session = committed.map_err(|e| {
            Error::Model(match options.device {
                Device::Cpu => format!("{where_from}: not a loadable ONNX model: {e}"),
                device => format!("{where_from}: cannot load it on {}: {e}", device.name()),
            })
        })?;
        let mut encoder = Encoder {
            session,
            input_name: model.input_name.clone(),
            output_name: model.output_name.clone(),
        };
        encoder.check_contract(model).map_err(|e| {
            Error::Model(format!(
                "model {where_from} does not match its sidecar {}: {e}",
                model.sidecar_path.display()
            ))
        })?;
        Ok(encoder)
    }

    /// Embeds a normalised NCHW batch into NCHW features.
    pub fn embed(&mut self, batch: &Array4<f32>) -> Result<Array4<f32>> {
        let input = TensorRef::from_array_view(batch.view())?;
        let outputs = self
            .session
            .run(ort::inputs![self.input_name.as_str() => input])?;
        let output = outputs[self.output_name.as_str()]
            .try_extract_array::<f32>()?
            .into_dimensionality::<Ix4>()?
            .to_owned();
        Ok(output)
    }

    /// Checks the input and output names, then runs zeros of each crop size the tracker cuts and checks the
    /// features' shape, so a model that does not fit its sidecar fails at load, not mid-video.
    fn check_contract(&mut self, model: &ModelConfig) -> std::result::Result<(), String> {
        let inputs: Vec<&str> = self.session.inputs().iter().map(|i| i.name()).collect();
        if !inputs.contains(&self.input_name.as_str()) {
            return Err(format!(
                "no input named {:?} (the graph has {inputs:?})",
                self.input_name
            ));
        }
        let outputs: Vec<&str> = self.session.outputs().iter().map(|o| o.name()).collect();
        if !outputs.contains(&self.output_name.as_str()) {
            return Err(format!(
                "no output named {:?} (the graph has {outputs:?})",
                self.output_name
            ));
        }
        let confident = model.confident_search_size();
        for (side, feature) in [
            (model.template_size, model.template_feature_size),
            (model.search_size, model.search_feature_size),
            (confident, model.feature_size_for(confident)),
        ] {
            let side = side as usize;
            let input = [1, 3, side, side];
            let want = [1, model.channels, feature, feature];
            let output = self
                .embed(&Array4::zeros(input))
                .map_err(|e| e.to_string())?;
            if output.shape() != want {
                return Err(format!(
                    "an input of shape {input:?} gives an output of shape {:?}, the sidecar says {want:?}",
                    output.shape()
                ));
            }
        }
        Ok(())
    }
}
