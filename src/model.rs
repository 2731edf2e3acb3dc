//! The Siamese encoder: one ONNX graph embedding both the template and the search crops, run by ONNX Runtime.

use crate::config::ModelConfig;
use crate::paths::find_shipped;
use crate::xcorr::depthwise_xcorr;
use anyhow::{anyhow, bail, Context, Result};
use ndarray::{Array3, Array4, ArrayView3, Axis, Ix4};
use ort::environment::Environment;
use ort::ep::ExecutionProviderDispatch;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Where the encoder runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Device {
    #[default]
    Cpu,
    Cuda,
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

#[derive(Clone, Debug, Default)]
pub struct EncoderOptions {
    pub device: Device,
    /// ONNX Runtime intra-op threads; 0 lets ONNX Runtime choose.
    pub threads: usize,
    /// Whether ONNX Runtime's worker threads spin between runs. Spinning shaves a wake-up off each run but
    /// keeps a core busy, which the decoding thread then waits for.
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
                     libraries it needs (scripts/gpu_check.sh sets up the GPU build)",
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

/// One ONNX graph with one 4-D float input and one 4-D float output, as the sidecar names them.
struct Graph {
    session: Session,
    input_name: String,
    output_name: String,
}

/// The Siamese encoder: crops [N, 3, H, W] to features [N, C, h, w].
pub struct Encoder {
    graph: Graph,
}

/// The box-size head: correlation and averaged search features [N, 2C, R, R] to width and height change factors
/// [N, 2, R, R].
pub struct BoxHead {
    graph: Graph,
    /// A uniform template window [C, k, k]: correlating it averages the search features under the template.
    box_filter: Array3<f32>,
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

impl Graph {
    fn load(
        path: &Path,
        input_name: &str,
        output_name: &str,
        options: &EncoderOptions,
    ) -> Result<Self> {
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
        builder = builder
            .with_intra_op_spinning(options.spinning)
            .map_err(|e| anyhow!("{e}"))?;
        if let Some(provider) = options.device.execution_provider() {
            builder = builder
                .with_execution_providers([provider])
                .map_err(|e| anyhow!("cannot use {}: {e}", options.device.name()))?;
        }
        let session = builder
            .commit_from_file(path)
            .map_err(|e| match options.device {
                Device::Cpu => anyhow!("{}: not a loadable ONNX model: {e}", path.display()),
                device => anyhow!(
                    "{}: cannot load it on {}: {e}",
                    path.display(),
                    device.name()
                ),
            })?;
        Ok(Graph {
            session,
            input_name: input_name.to_string(),
            output_name: output_name.to_string(),
        })
    }

    /// Checks the input and output names, then runs zeros of each input shape and checks the output shape, so
    /// a model that does not fit its sidecar fails at load, not mid-video.
    fn check_contract(&mut self, shapes: &[([usize; 4], [usize; 4])]) -> Result<()> {
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
        for &(input, want) in shapes {
            let output = self.run(&Array4::zeros(input))?;
            if output.shape() != want {
                bail!(
                    "an input of shape {input:?} gives an output of shape {:?}, the sidecar says {want:?}",
                    output.shape()
                );
            }
        }
        Ok(())
    }

    fn run(&mut self, batch: &Array4<f32>) -> Result<Array4<f32>> {
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
}

fn mismatch(graph: &Path, model: &ModelConfig) -> String {
    format!(
        "model {} does not match its sidecar {}",
        graph.display(),
        model.sidecar_path.display()
    )
}

impl Encoder {
    /// Loads the model's ONNX graph and checks that it produces the feature shapes its sidecar promises.
    pub fn load(model: &ModelConfig, options: &EncoderOptions) -> Result<Self> {
        let path = model.onnx_path();
        let mut graph = Graph::load(&path, &model.input_name, &model.output_name, options)?;
        let confident = model.confident_search_size();
        let shapes: Vec<_> = [
            (model.template_size, model.template_feature_size),
            (model.search_size, model.search_feature_size),
            (confident, model.feature_size_for(confident)),
        ]
        .iter()
        .map(|&(side, feature)| {
            let side = side as usize;
            ([1, 3, side, side], [1, model.channels, feature, feature])
        })
        .collect();
        graph
            .check_contract(&shapes)
            .with_context(|| mismatch(&path, model))?;
        Ok(Encoder { graph })
    }

    /// Embeds a normalised NCHW batch into NCHW features.
    pub fn embed(&mut self, batch: &Array4<f32>) -> Result<Array4<f32>> {
        self.graph.run(batch)
    }
}

impl BoxHead {
    /// Loads the sidecar's box head, if it names one, and checks it against the response size.
    pub fn load(model: &ModelConfig, options: &EncoderOptions) -> Result<Option<Self>> {
        let (Some(head), Some(path)) = (&model.box_head, model.box_head_path()) else {
            return Ok(None);
        };
        // One thread: the head is tiny, and a second pool of spinning threads would slow the encoder down.
        let options = EncoderOptions {
            threads: 1,
            ..options.clone()
        };
        let mut graph = Graph::load(&path, &head.input_name, &head.output_name, &options)?;
        let side = model.response_size();
        graph
            .check_contract(&[([1, 2 * model.channels, side, side], [1, 2, side, side])])
            .with_context(|| mismatch(&path, model))?;
        let k = model.template_window();
        let box_filter = Array3::from_elem((model.channels, k, k), 1.0 / (k * k) as f32);
        Ok(Some(BoxHead { graph, box_filter }))
    }

    /// Width and height change maps [2, R, R] for the template features [C, k, k] (already cut to the correlation
    /// window) over one search crop's features [C, H, W]: the head reads their depthwise correlation followed by
    /// the search features averaged over the template window.
    pub fn size_changes(
        &mut self,
        template: ArrayView3<f32>,
        search: ArrayView3<f32>,
    ) -> Result<Array3<f32>> {
        let correlation = depthwise_xcorr(template, search);
        let averaged = depthwise_xcorr(self.box_filter.view(), search);
        let input = ndarray::concatenate(Axis(0), &[correlation.view(), averaged.view()])?;
        let batch = input.insert_axis(Axis(0));
        Ok(self.graph.run(&batch)?.index_axis_move(Axis(0), 0))
    }
}
