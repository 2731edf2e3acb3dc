//! `siamtrack._siamtrack`: the tracking core behind OpenCV's tracker interface.
//!
//! Frames are numpy arrays of shape (height, width, 3) and dtype uint8, read in place whenever their channels are
//! adjacent and their strides positive (a crop or a subsampled view of a larger frame included), else copied
//! once into a packed array. Every call into the core releases the GIL, so trackers in different threads run at
//! the same time, and catches panics, so a bug surfaces as a `RuntimeError` rather than an abort.

use ndarray::{Array3, ArrayView3};
use numpy::{
    PyArray3, PyArrayDescrMethods, PyArrayMethods, PyReadonlyArray3, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{
    PyFileNotFoundError, PyKeyError, PyRuntimeError, PyRuntimeWarning, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};
use siamtrack_core::{
    BBox, ChannelOrder, Device, EncoderOptions, Error as CoreError, ImageView, ModelConfig,
    MultiTracker as CoreMultiTracker, Track as CoreTrack, TrackState, Tracker as CoreTracker,
};
use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, TryLockError};

/// Whether `set_runtime_library` named the ONNX Runtime library; when neither it nor `ORT_DYLIB_PATH` did, a
/// failure to load the runtime says how to provide one.
static RUNTIME_LIBRARY_SET: AtomicBool = AtomicBool::new(false);

/// Why a call into the core failed, carried out of the GIL-free section to become a Python exception.
enum Failure {
    Core(CoreError),
    /// Another thread is inside the same tracker; the name of the class.
    Busy(&'static str),
    /// A panic in the core (a bug): its message.
    Panic(String),
}

impl From<CoreError> for Failure {
    fn from(error: CoreError) -> Self {
        Failure::Core(error)
    }
}

fn core_error(error: CoreError) -> PyErr {
    let message = error.to_string();
    match error {
        CoreError::Frame(_)
        | CoreError::Box(_)
        | CoreError::Model(_)
        | CoreError::Parameter { .. }
        | CoreError::Parameters(_) => PyValueError::new_err(message),
        CoreError::ModelNotFound(_) => PyFileNotFoundError::new_err(message),
        CoreError::UnknownTarget(_) => PyKeyError::new_err(message),
        CoreError::Runtime(_) if !runtime_library_named() => PyRuntimeError::new_err(format!(
            "{message} (no ONNX Runtime library was found in the onnxruntime package: install onnxruntime or \
             onnxruntime-gpu, or set ORT_DYLIB_PATH to libonnxruntime.so)"
        )),
        _ => PyRuntimeError::new_err(message),
    }
}

fn runtime_library_named() -> bool {
    RUNTIME_LIBRARY_SET.load(Ordering::SeqCst) || std::env::var_os("ORT_DYLIB_PATH").is_some()
}

impl From<Failure> for PyErr {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Core(error) => core_error(error),
            Failure::Busy(class) => PyRuntimeError::new_err(format!(
                "this {class} is working on a frame in another thread: a tracker takes its frames one at a \
                 time (use one tracker per thread)"
            )),
            Failure::Panic(message) => PyRuntimeError::new_err(format!(
                "siamtrack failed internally (a bug; please report it): {message}"
            )),
        }
    }
}

/// Runs `work` without the GIL, turning a panic into a [`Failure`].
fn detached<R: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<R, Failure> + Send,
) -> PyResult<R> {
    py.detach(|| match catch_unwind(AssertUnwindSafe(work)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_string());
            Err(Failure::Panic(message))
        }
    })
    .map_err(PyErr::from)
}

/// The tracker behind `mutex`, or `Busy` while another thread is inside it. A panic in the core poisons the lock
/// on its way out to [`detached`]; the tracker is then used as it is (a later call may fail too, but never aborts).
fn lock<'a, T>(
    mutex: &'a Mutex<T>,
    class: &'static str,
) -> Result<std::sync::MutexGuard<'a, T>, Failure> {
    match mutex.try_lock() {
        Ok(guard) => Ok(guard),
        Err(TryLockError::Poisoned(poisoned)) => Ok(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => Err(Failure::Busy(class)),
    }
}

fn type_name(object: &Bound<'_, PyAny>) -> String {
    object
        .get_type()
        .name()
        .map(|name| name.to_string())
        .unwrap_or_else(|_| "object".to_string())
}

fn shape_text(shape: &[usize]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A frame as the core reads it: the caller's array in place, or a packed copy when its layout cannot be read in
/// place (channels not adjacent, or rows or pixels at negative or zero strides).
struct Frame<'py> {
    array: PyReadonlyArray3<'py, u8>,
    copy: Option<Array3<u8>>,
}

impl<'py> Frame<'py> {
    fn read(frame: &Bound<'py, PyAny>) -> PyResult<Self> {
        const EXPECTED: &str =
            "frame must be a numpy array of shape (height, width, 3) and dtype uint8";
        let untyped = frame
            .cast::<PyUntypedArray>()
            .map_err(|_| PyTypeError::new_err(format!("{EXPECTED}; got {}", type_name(frame))))?;
        let dtype = untyped.dtype();
        let shape = untyped.shape();
        if !dtype.is_equiv_to(&numpy::dtype::<u8>(frame.py())) || shape.len() != 3 || shape[2] != 3
        {
            return Err(PyTypeError::new_err(format!(
                "{EXPECTED}; got a {dtype} array of shape {}",
                shape_text(shape)
            )));
        }
        let array = untyped
            .cast::<PyArray3<u8>>()
            .map_err(PyErr::from)?
            .try_readonly()
            .map_err(|e| PyRuntimeError::new_err(format!("cannot read the frame: {e}")))?;
        let copy = match in_place_strides(&array.as_array()) {
            Some(_) => None,
            None => Some(array.as_array().as_standard_layout().into_owned()),
        };
        Ok(Self { array, copy })
    }

    fn view(&self, order: ChannelOrder) -> Result<ImageView<'_>, CoreError> {
        if let Some(copy) = &self.copy {
            let (height, width) = (copy.shape()[0], copy.shape()[1]);
            let bytes = copy
                .as_slice()
                .expect("a standard-layout array is one slice");
            return ImageView::new(bytes, width, height, order);
        }
        let pixels = self.array.as_array();
        let (height, width) = (pixels.shape()[0], pixels.shape()[1]);
        let (row_stride, pixel_stride) =
            in_place_strides(&pixels).expect("checked when the frame was read");
        let bytes: &[u8] = if height == 0 || width == 0 {
            &[]
        } else {
            let span = (height - 1) * row_stride + (width - 1) * pixel_stride + 3;
            // SAFETY: the strides are positive, so the array's first element is its lowest address and its last
            // pixel's last channel, `span - 1` bytes on, its highest; numpy's buffer is one allocation holding
            // both, so it holds every byte between them. The read-only borrow `self.array` keeps it alive (and
            // other Rust code from writing to it) for as long as the view borrows `self`.
            unsafe { std::slice::from_raw_parts(pixels.as_ptr(), span) }
        };
        ImageView::with_strides(bytes, width, height, row_stride, pixel_stride, order)
    }
}

/// The strides in bytes of rows and pixels when `pixels` can be read in place: channels adjacent, rows and pixels
/// at positive strides (a stride along an axis of one element is never used, so any value passes there).
fn in_place_strides(pixels: &ArrayView3<'_, u8>) -> Option<(usize, usize)> {
    let (height, width) = (pixels.shape()[0], pixels.shape()[1]);
    let strides = pixels.strides();
    if strides[2] != 1 {
        return None;
    }
    let pixel_stride = match width {
        0 | 1 => 3,
        _ if strides[1] >= 3 => strides[1] as usize,
        _ => return None,
    };
    let row_stride = match height {
        0 | 1 => pixel_stride * width.max(1),
        _ if strides[0] > 0 => strides[0] as usize,
        _ => return None,
    };
    Some((row_stride, pixel_stride))
}

/// A box `(x, y, w, h)` from any sequence of 4 numbers.
fn read_box(bbox: &Bound<'_, PyAny>) -> PyResult<BBox> {
    let bad = || {
        let shown = bbox
            .repr()
            .map(|r| r.to_string())
            .unwrap_or_else(|_| type_name(bbox));
        PyValueError::new_err(format!("box must be 4 numbers (x, y, w, h); got {shown}"))
    };
    // Text and bytes are sequences too, of characters and of byte values: never a box.
    if bbox.is_instance_of::<PyString>() || bbox.is_instance_of::<PyBytes>() {
        return Err(bad());
    }
    match bbox.extract::<Vec<f64>>() {
        Ok(values) if values.len() == 4 => {
            Ok(BBox::new(values[0], values[1], values[2], values[3]))
        }
        _ => Err(bad()),
    }
}

fn device_name(device: Device) -> &'static str {
    match device {
        Device::Cpu => "cpu",
        Device::Cuda => "cuda",
        Device::Tensorrt => "tensorrt",
    }
}

fn order_name(order: ChannelOrder) -> &'static str {
    match order {
        ChannelOrder::Bgr => "bgr",
        ChannelOrder::Rgb => "rgb",
    }
}

/// What the two tracker classes are built from: the model, the encoder's options and the frames' channel order.
struct Setup {
    model: ModelConfig,
    options: EncoderOptions,
    order: ChannelOrder,
}

impl Setup {
    fn read(
        py: Python<'_>,
        model: Option<&Bound<'_, PyAny>>,
        threads: i64,
        device: &str,
        color: &str,
    ) -> PyResult<Self> {
        let order = match color.to_ascii_lowercase().as_str() {
            "bgr" => ChannelOrder::Bgr,
            "rgb" => ChannelOrder::Rgb,
            _ => {
                return Err(PyValueError::new_err(format!(
                    "color must be \"bgr\" or \"rgb\"; got {color:?}"
                )))
            }
        };
        let threads = usize::try_from(threads).map_err(|_| {
            PyValueError::new_err(format!(
                "threads must be 0 (all cores) or more; got {threads}"
            ))
        })?;
        let device = Device::from_str(&device.to_ascii_lowercase()).map_err(|_| {
            PyValueError::new_err(format!(
                "device must be \"cpu\", \"cuda\" or \"tensorrt\"; got {device:?}"
            ))
        })?;
        let model = read_model(model)?;
        let requested = EncoderOptions {
            device,
            threads,
            ..EncoderOptions::default()
        };
        // Registering a GPU provider loads ONNX Runtime and the provider's libraries: no GIL needed.
        let (options, fallback) = detached(py, move || Ok(requested.or_cpu()?))?;
        if let Some(reason) = fallback {
            let message = CString::new(format!("{reason}; running on the CPU"))
                .unwrap_or_else(|_| CString::from(c"the GPU cannot be used; running on the CPU"));
            PyErr::warn(py, py.get_type::<PyRuntimeWarning>().as_any(), &message, 1)?;
        }
        Ok(Self {
            model,
            options,
            order,
        })
    }
}

/// The shipped model for `None` or a shipped name, else the sidecar at the path given.
fn read_model(model: Option<&Bound<'_, PyAny>>) -> PyResult<ModelConfig> {
    let Some(model) = model.filter(|m| !m.is_none()) else {
        return Ok(ModelConfig::shipped());
    };
    if let Ok(name) = model.extract::<String>() {
        if let Some(config) = ModelConfig::shipped_named(&name) {
            return Ok(config);
        }
    }
    let path: PathBuf = model.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "model must be a shipped model's name ({}) or the path of a sidecar .json; got {}",
            ModelConfig::SHIPPED.join(", "),
            type_name(model)
        ))
    })?;
    ModelConfig::load(&path).map_err(|error| match error {
        CoreError::ModelNotFound(_) => PyFileNotFoundError::new_err(format!(
            "{error}: model is a shipped model's name ({}) or the path of a sidecar .json",
            ModelConfig::SHIPPED.join(", ")
        )),
        other => core_error(other),
    })
}

/// One target's place in one frame, as `Tracker.track` and `MultiTracker.update` return it.
///
/// `x, y, w, h` is the box in pixels (0-based, top-left corner), `score` the confidence in 0..1 (1 on the
/// frame a target was given), `state` one of "tracking", "uncertain" and "lost", and `id` the target's id
/// (1 for a `Tracker`; 1, 2, ... in the order targets were added to a `MultiTracker`).
#[pyclass(module = "siamtrack", frozen, eq)]
#[derive(Clone, PartialEq)]
struct Track {
    /// Left edge of the box, in pixels from the frame's left (0-based).
    #[pyo3(get)]
    x: f64,
    /// Top edge of the box, in pixels from the frame's top (0-based).
    #[pyo3(get)]
    y: f64,
    /// Width of the box, in pixels.
    #[pyo3(get)]
    w: f64,
    /// Height of the box, in pixels.
    #[pyo3(get)]
    h: f64,
    /// Confidence in 0..1: the match's peak between the first frame's background level (0) and the target's
    /// match with itself (1).
    #[pyo3(get)]
    score: f64,
    /// "tracking", "uncertain" (a weak match) or "lost" (several weak matches in a row).
    #[pyo3(get)]
    state: String,
    /// The target's id: 1 for a `Tracker`, 1, 2, ... in the order added for a `MultiTracker`.
    #[pyo3(get)]
    id: usize,
}

const STATES: [&str; 3] = ["tracking", "uncertain", "lost"];

impl Track {
    fn from_core(track: &CoreTrack, id: usize) -> Self {
        Self {
            x: track.bbox.x,
            y: track.bbox.y,
            w: track.bbox.w,
            h: track.bbox.h,
            score: f64::from(track.score),
            state: track.state.name().to_string(),
            id,
        }
    }
}

#[pymethods]
impl Track {
    /// A track as the tracker would report it; `state` is "tracking", "uncertain" or "lost".
    #[new]
    #[pyo3(
        signature = (x, y, w, h, score = 1.0, state = "tracking".to_string(), id = 1),
        text_signature = "(x, y, w, h, score=1.0, state='tracking', id=1)"
    )]
    fn new(x: f64, y: f64, w: f64, h: f64, score: f64, state: String, id: usize) -> PyResult<Self> {
        if !STATES.contains(&state.as_str()) {
            return Err(PyValueError::new_err(format!(
                "state must be \"tracking\", \"uncertain\" or \"lost\"; got {state:?}"
            )));
        }
        Ok(Self {
            x,
            y,
            w,
            h,
            score,
            state,
            id,
        })
    }

    /// The box as `(x, y, w, h)`, as OpenCV's trackers give it.
    #[getter]
    fn bbox(&self) -> (f64, f64, f64, f64) {
        (self.x, self.y, self.w, self.h)
    }

    fn __repr__(&self) -> String {
        format!(
            "Track(id={}, x={:.2}, y={:.2}, w={:.2}, h={:.2}, score={:.3}, state='{}')",
            self.id, self.x, self.y, self.w, self.h, self.score, self.state
        )
    }
}

/// The last score, kept as the bits of an `f32` so that `getTrackingScore` needs no lock.
struct Score(AtomicU32);

impl Score {
    fn new(value: f32) -> Self {
        Self(AtomicU32::new(value.to_bits()))
    }

    fn set(&self, value: f32) {
        self.0.store(value.to_bits(), Ordering::SeqCst);
    }

    fn get(&self) -> f64 {
        f64::from(f32::from_bits(self.0.load(Ordering::SeqCst)))
    }
}

/// A single-target tracker with OpenCV's tracker interface (`cv2.Tracker`).
///
/// `Tracker(model=None, threads=0, device="cpu", color="bgr")`: `model` is a shipped model's name (see
/// `SHIPPED_MODELS`; None takes `DEFAULT_MODEL`, built into the library) or the path of a model sidecar .json
/// with its .onnx beside it; `threads` the encoder's threads (0: all cores); `device` "cpu", "cuda" or
/// "tensorrt" (the GPU ones need onnxruntime-gpu; when the GPU cannot be used a RuntimeWarning says why and the
/// encoder runs on the CPU); `color` the channel order of the frames, "bgr" (OpenCV's) or "rgb".
///
/// Frames are numpy arrays of shape (height, width, 3) and dtype uint8; boxes are `(x, y, w, h)` in pixels,
/// 0-based, top-left corner. `init`, `update` and `track` release the GIL while they work.
#[pyclass(module = "siamtrack", frozen)]
struct Tracker {
    tracker: Mutex<CoreTracker>,
    order: ChannelOrder,
    device: Device,
    model: String,
    score: Score,
}

impl Tracker {
    fn step(&self, py: Python<'_>, frame: &Bound<'_, PyAny>) -> PyResult<CoreTrack> {
        let frame = Frame::read(frame)?;
        let view = frame.view(self.order).map_err(core_error)?;
        let track = detached(py, || Ok(lock(&self.tracker, "Tracker")?.update(&view)?))?;
        self.score.set(track.score);
        Ok(track)
    }
}

#[pymethods]
impl Tracker {
    #[new]
    #[pyo3(
        signature = (model = None, threads = 0, device = "cpu".to_string(), color = "bgr".to_string()),
        text_signature = "(model=None, threads=0, device='cpu', color='bgr')"
    )]
    fn new(
        py: Python<'_>,
        model: Option<&Bound<'_, PyAny>>,
        threads: i64,
        device: String,
        color: String,
    ) -> PyResult<Self> {
        let setup = Setup::read(py, model, threads, &device, &color)?;
        let tracker = detached(py, || Ok(CoreTracker::new(&setup.model, &setup.options)?))?;
        Ok(Self {
            tracker: Mutex::new(tracker),
            order: setup.order,
            device: setup.options.device,
            model: setup.model.name.clone(),
            score: Score::new(0.0),
        })
    }

    /// Starts tracking the target inside `bbox` `(x, y, w, h)` on `frame`; returns None, as `cv2.Tracker.init`.
    /// Calling it again starts over with a new target.
    fn init(
        &self,
        py: Python<'_>,
        frame: &Bound<'_, PyAny>,
        bbox: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let bbox = read_box(bbox)?;
        let frame = Frame::read(frame)?;
        let view = frame.view(self.order).map_err(core_error)?;
        detached(
            py,
            || Ok(lock(&self.tracker, "Tracker")?.init(&view, bbox)?),
        )?;
        // The frame the target was given on counts as a full match, as in the command line's log.
        self.score.set(1.0);
        Ok(())
    }

    /// Follows the target into `frame`: `(ok, (x, y, w, h))` as `cv2.Tracker.update`, `ok` being False when
    /// the target is lost (the box is then where the tracker searches for it).
    fn update(
        &self,
        py: Python<'_>,
        frame: &Bound<'_, PyAny>,
    ) -> PyResult<(bool, (f64, f64, f64, f64))> {
        let track = self.step(py, frame)?;
        let bbox = track.bbox;
        Ok((
            track.state != TrackState::Lost,
            (bbox.x, bbox.y, bbox.w, bbox.h),
        ))
    }

    /// Moves the target's box to the centre `(cx, cy)`, keeping its size: a correction from outside (a detector,
    /// a person). The next update searches around it.
    fn recentre(&self, py: Python<'_>, centre: (f64, f64)) -> PyResult<()> {
        detached(py, || Ok(lock(&self.tracker, "Tracker")?.recentre(centre)?))
    }

    /// Follows the target into `frame` and returns the whole `Track` (box, score, state, id 1).
    fn track(&self, py: Python<'_>, frame: &Bound<'_, PyAny>) -> PyResult<Track> {
        Ok(Track::from_core(&self.step(py, frame)?, 1))
    }

    /// The score of the last frame in 0..1, as `cv2.TrackerNano.getTrackingScore`: 1.0 right after `init`,
    /// 0.0 before it.
    #[pyo3(name = "getTrackingScore")]
    fn get_tracking_score(&self) -> f64 {
        self.score.get()
    }

    /// The model's name.
    #[getter]
    fn model(&self) -> &str {
        &self.model
    }

    /// Where the encoder runs: "cpu", "cuda" or "tensorrt" ("cpu" after a fallback from the GPU).
    #[getter]
    fn device(&self) -> &'static str {
        device_name(self.device)
    }

    fn __repr__(&self) -> String {
        format!(
            "Tracker(model='{}', device='{}', color='{}')",
            self.model,
            device_name(self.device),
            order_name(self.order)
        )
    }
}

/// Several targets over one encoder: their crops of a frame go through it together.
///
/// `MultiTracker(model=None, threads=0, device="cpu", color="bgr")` takes the arguments of `Tracker`. Targets
/// get ids 1, 2, ... in the order added; `update` returns one `Track` per target, in the order of `ids`.
/// `add` and `update` release the GIL while they work.
#[pyclass(module = "siamtrack", frozen)]
struct MultiTracker {
    trackers: Mutex<CoreMultiTracker>,
    order: ChannelOrder,
    device: Device,
    model: String,
}

#[pymethods]
impl MultiTracker {
    #[new]
    #[pyo3(
        signature = (model = None, threads = 0, device = "cpu".to_string(), color = "bgr".to_string()),
        text_signature = "(model=None, threads=0, device='cpu', color='bgr')"
    )]
    fn new(
        py: Python<'_>,
        model: Option<&Bound<'_, PyAny>>,
        threads: i64,
        device: String,
        color: String,
    ) -> PyResult<Self> {
        let setup = Setup::read(py, model, threads, &device, &color)?;
        let trackers = detached(py, || {
            Ok(CoreMultiTracker::new(&setup.model, &setup.options)?)
        })?;
        Ok(Self {
            trackers: Mutex::new(trackers),
            order: setup.order,
            device: setup.options.device,
            model: setup.model.name.clone(),
        })
    }

    /// Starts tracking the target inside `bbox` `(x, y, w, h)` on `frame`; returns its id (1, 2, ... in the
    /// order added).
    fn add(
        &self,
        py: Python<'_>,
        frame: &Bound<'_, PyAny>,
        bbox: &Bound<'_, PyAny>,
    ) -> PyResult<usize> {
        let bbox = read_box(bbox)?;
        let frame = Frame::read(frame)?;
        let view = frame.view(self.order).map_err(core_error)?;
        detached(py, || {
            Ok(lock(&self.trackers, "MultiTracker")?.add(&view, bbox)?)
        })
    }

    /// Stops tracking target `id`; a KeyError when there is no such target.
    fn remove(&self, py: Python<'_>, id: usize) -> PyResult<()> {
        detached(py, || {
            let mut trackers = lock(&self.trackers, "MultiTracker")?;
            match trackers.remove(id) {
                true => Ok(()),
                false => Err(Failure::Core(CoreError::UnknownTarget(id))),
            }
        })
    }

    /// Follows every target into `frame`: one `Track` per target, in the order of `ids`.
    fn update(&self, py: Python<'_>, frame: &Bound<'_, PyAny>) -> PyResult<Vec<Track>> {
        let frame = Frame::read(frame)?;
        let view = frame.view(self.order).map_err(core_error)?;
        detached(py, || {
            let mut trackers = lock(&self.trackers, "MultiTracker")?;
            let tracks = trackers.update(&view)?;
            Ok(trackers
                .ids()
                .into_iter()
                .zip(&tracks)
                .map(|(id, track)| Track::from_core(track, id))
                .collect())
        })
    }

    /// The ids of the targets being tracked, in the order `update` returns them.
    #[getter]
    fn ids(&self, py: Python<'_>) -> PyResult<Vec<usize>> {
        detached(py, || Ok(lock(&self.trackers, "MultiTracker")?.ids()))
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.ids(py)?.len())
    }

    /// The model's name.
    #[getter]
    fn model(&self) -> &str {
        &self.model
    }

    /// Where the encoder runs: "cpu", "cuda" or "tensorrt" ("cpu" after a fallback from the GPU).
    #[getter]
    fn device(&self) -> &'static str {
        device_name(self.device)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let ids = self
            .ids(py)
            .map(|ids| format!("{ids:?}"))
            .unwrap_or_else(|_| "(busy)".to_string());
        format!(
            "MultiTracker(model='{}', device='{}', color='{}', ids={ids})",
            self.model,
            device_name(self.device),
            order_name(self.order)
        )
    }
}

/// Names the ONNX Runtime library (libonnxruntime.so) to load; effective only before the first tracker is
/// made. `import siamtrack` calls it with the library of the installed onnxruntime package, unless
/// ORT_DYLIB_PATH names one.
#[pyfunction]
fn set_runtime_library(path: PathBuf) -> PyResult<()> {
    siamtrack_core::set_runtime_library(path).map_err(core_error)?;
    RUNTIME_LIBRARY_SET.store(true, Ordering::SeqCst);
    Ok(())
}

/// Whether `frame` would be read in place (True) or copied first (False); TypeError as a tracker's for a frame
/// that is not an (height, width, 3) uint8 array.
#[pyfunction]
#[pyo3(name = "_reads_in_place")]
fn reads_in_place(frame: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(Frame::read(frame)?.copy.is_none())
}

/// siamtrack's tracking core: `Tracker`, `MultiTracker` and `Track`.
#[pymodule]
fn _siamtrack(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Track>()?;
    m.add_class::<Tracker>()?;
    m.add_class::<MultiTracker>()?;
    m.add_function(wrap_pyfunction!(set_runtime_library, m)?)?;
    m.add_function(wrap_pyfunction!(reads_in_place, m)?)?;
    m.add("SHIPPED_MODELS", PyTuple::new(py, ModelConfig::SHIPPED)?)?;
    m.add("DEFAULT_MODEL", ModelConfig::shipped().name)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
