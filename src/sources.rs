//! Frame sources: video files, image folders, cameras, GStreamer pipelines and stream URLs.

use anyhow::{bail, Context, Result};
use opencv::core::{Mat, CV_8UC3};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc, videoio};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One decoded frame.
pub struct Frame {
    /// 0-based position in the input.
    pub index: u64,
    /// Presentation time for files, wall-clock time since the start for live input.
    pub timestamp_ms: f64,
    /// Time the frame was read, for latency measurements.
    pub captured: Instant,
    /// 8-bit BGR.
    pub image: Mat,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SourceSpec {
    Video(PathBuf),
    Images(PathBuf),
    Camera(i32),
    /// A V4L2 device such as `/dev/video0`.
    Device(PathBuf),
    /// A GStreamer pipeline ending in `appsink`.
    Pipeline(String),
    /// An `rtsp://`, `http://`... stream.
    Stream(String),
}

const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "bmp", "tif", "tiff", "webp", "ppm"];

impl SourceSpec {
    /// Interprets an input argument: a folder, a GStreamer pipeline (contains `!`), a URL, a `/dev/video*` device,
    /// a camera index, or a video file.
    pub fn parse(input: &str) -> Result<Self> {
        // A `file://` URL names a file (or folder) like its path does.
        let input = input.strip_prefix("file://").unwrap_or(input);
        let path = Path::new(input);
        if input.contains('!') {
            Ok(Self::Pipeline(input.to_string()))
        } else if input.contains("://") {
            Ok(Self::Stream(input.to_string()))
        } else if let Ok(index) = input.parse::<i32>() {
            Ok(Self::Camera(index))
        } else if input.starts_with("/dev/video") {
            Ok(Self::Device(path.to_path_buf()))
        } else if path.is_dir() {
            Ok(Self::Images(path.to_path_buf()))
        } else if path.is_file() {
            Ok(Self::Video(path.to_path_buf()))
        } else if path.symlink_metadata().is_ok() {
            bail!("input {input} cannot be read (a broken link, a link loop, or no permission)")
        } else {
            bail!("input {input} not found")
        }
    }

    /// Live sources drop stale frames rather than fall behind.
    pub fn is_live(&self) -> bool {
        !matches!(self, Self::Video(_) | Self::Images(_))
    }

    pub fn name(&self) -> String {
        match self {
            Self::Video(p) | Self::Images(p) | Self::Device(p) => p.display().to_string(),
            Self::Camera(i) => format!("camera {i}"),
            Self::Pipeline(s) | Self::Stream(s) => s.clone(),
        }
    }
}

enum Reader {
    Capture(videoio::VideoCapture),
    Images(Vec<PathBuf>),
}

pub struct Source {
    spec: SourceSpec,
    reader: Reader,
    next_index: u64,
    fps: f64,
    frame_count: Option<u64>,
    opened: Instant,
    /// The first frame, read when the capture was opened.
    pending: Option<Mat>,
}

/// Whether the libraries' own messages are hidden (see [`quiet_libraries`]).
static QUIET: AtomicBool = AtomicBool::new(false);

/// Hides OpenCV's, FFmpeg's and GStreamer's warnings: siamtrack's own messages say what went wrong with a source,
/// and theirs came first and buried it. `--verbose` keeps them.
pub fn quiet_libraries() {
    QUIET.store(true, Ordering::SeqCst);
    // Read by OpenCV's FFmpeg backend when it first loads; no other thread runs yet.
    std::env::set_var("OPENCV_FFMPEG_LOGLEVEL", "-8");
    let _ = opencv::core::set_log_level(opencv::core::LogLevel::LOG_LEVEL_ERROR);
}

/// Standard error sent to /dev/null while a source opens (GStreamer prints straight to it), when quiet.
struct Silenced(Option<i32>);

impl Silenced {
    fn new() -> Self {
        if !QUIET.load(Ordering::SeqCst) {
            return Self(None);
        }
        // SAFETY: plain descriptor calls; the saved copy is restored (and closed) on drop.
        unsafe {
            let saved = libc::dup(2);
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
            if saved < 0 || null < 0 {
                return Self(None);
            }
            libc::dup2(null, 2);
            libc::close(null);
            Self(Some(saved))
        }
    }
}

impl Drop for Silenced {
    fn drop(&mut self) {
        if let Some(saved) = self.0 {
            // SAFETY: puts back the descriptor saved in `new`.
            unsafe {
                libc::dup2(saved, 2);
                libc::close(saved);
            }
        }
    }
}

/// Fails at once on a pipeline element GStreamer does not have (a typo would otherwise make the pipeline wait
/// for the time limit), by asking `gst-inspect-1.0` (GStreamer's tools) about each element; without the tools, the
/// time limit stays the check.
fn check_pipeline_elements(pipeline: &str) -> Result<()> {
    for part in pipeline.split('!') {
        let Some(element) = part.split_whitespace().next() else {
            bail!("GStreamer pipeline {pipeline:?} has an empty element");
        };
        // Caps (video/x-raw,...) and named references (name.) are not elements.
        if element.contains('/') || element.contains('=') || element.ends_with('.') {
            continue;
        }
        let known = std::process::Command::new("gst-inspect-1.0")
            .args(["--exists", element])
            .status();
        match known {
            Ok(status) if status.code() == Some(1) => bail!(
                "GStreamer has no element {element:?} (in the pipeline {pipeline:?}): a typo, or a plugin that is \
                 not installed"
            ),
            _ => {}
        }
    }
    Ok(())
}

/// How long a source may take to open and give its first frame: a file at once, a camera or stream a little more.
fn open_time_limit(spec: &SourceSpec) -> Duration {
    match spec {
        SourceSpec::Video(_) | SourceSpec::Images(_) => Duration::from_secs(10),
        _ => Duration::from_secs(20),
    }
}

/// Opens a capture and reads its first frame (`None`: it has none) within [`open_time_limit`]: some sources
/// never answer (a stream nobody sends, a pipeline that waits), and the decoder cannot be interrupted, so it is
/// left behind in its thread when the time is up.
fn open_capture_timed(spec: &SourceSpec) -> Result<(videoio::VideoCapture, Option<Mat>)> {
    if let SourceSpec::Pipeline(pipeline) = spec {
        check_pipeline_elements(pipeline)?;
    }
    let silenced = Silenced::new();
    let (tx, rx) = crossbeam_channel::bounded(1);
    let owned = spec.clone();
    std::thread::spawn(move || {
        let opened = open_capture(&owned).and_then(|mut capture| {
            let mut first = Mat::default();
            let got = capture.read(&mut first)? && !first.empty();
            Ok((capture, got.then_some(first)))
        });
        let _ = tx.send(opened);
    });
    let limit = open_time_limit(spec);
    let opened = rx.recv_timeout(limit);
    drop(silenced);
    match opened {
        Ok(opened) => opened,
        Err(_) => bail!(
            "{} gave no frame within {} s: nothing answered (not a video, a stream that sends nothing, or a \
             pipeline that waits)",
            spec.name(),
            limit.as_secs()
        ),
    }
}

fn open_capture(spec: &SourceSpec) -> Result<videoio::VideoCapture> {
    let capture = match spec {
        SourceSpec::Video(p) => videoio::VideoCapture::from_file(p, videoio::CAP_ANY)?,
        SourceSpec::Camera(i) => videoio::VideoCapture::new(*i, videoio::CAP_ANY)?,
        SourceSpec::Device(p) => videoio::VideoCapture::from_file(p, videoio::CAP_V4L2)?,
        SourceSpec::Pipeline(s) => videoio::VideoCapture::from_file(s, videoio::CAP_GSTREAMER)?,
        SourceSpec::Stream(s) => videoio::VideoCapture::from_file(s, videoio::CAP_ANY)?,
        SourceSpec::Images(_) => unreachable!("image folders are not captures"),
    };
    if !capture.is_opened()? {
        bail!(match spec {
            SourceSpec::Video(p) => format!(
                "cannot open {} as a video (not a video file, or an unsupported format)",
                p.display()
            ),
            SourceSpec::Camera(i) =>
                format!("cannot open camera {i}: no such camera, or it is busy"),
            SourceSpec::Device(p) => format!(
                "cannot open camera {}: no such device, or it is busy",
                p.display()
            ),
            SourceSpec::Pipeline(s) => format!(
                "cannot start GStreamer pipeline {s:?} (it must be valid and end in appsink)"
            ),
            SourceSpec::Stream(s) => format!("cannot open stream {s}"),
            SourceSpec::Images(_) => unreachable!(),
        });
    }
    Ok(capture)
}

/// The image files (by extension) in `dir`, sorted by name; an error when there are none.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut images: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read folder {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .collect();
    // Natural order: 2.jpg before 10.jpg, as the frames were numbered.
    images.sort_by(|a, b| natural_order(&a.to_string_lossy(), &b.to_string_lossy()));
    if images.is_empty() {
        bail!(
            "no images ({}) in folder {}",
            IMAGE_EXTENSIONS.join(", "),
            dir.display()
        );
    }
    Ok(images)
}

/// Compares names with their runs of digits as numbers (`frame2` before `frame10`); equal numbers with more
/// leading zeros first, so the order is total.
pub fn natural_order(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |s: &str| {
        let mut parts: Vec<(bool, String)> = Vec::new();
        for c in s.chars() {
            let digit = c.is_ascii_digit();
            match parts.last_mut() {
                Some((d, part)) if *d == digit => part.push(c),
                _ => parts.push((digit, c.to_string())),
            }
        }
        parts
    };
    let key = |(digit, part): &(bool, String)| {
        let trimmed = part.trim_start_matches('0');
        match digit {
            true => (
                0,
                trimmed.len(),
                trimmed.to_string(),
                usize::MAX - part.len(),
            ),
            false => (1, 0, part.clone(), 0),
        }
    };
    parts(a)
        .iter()
        .map(key)
        .cmp(parts(b).iter().map(key))
        .then_with(|| a.cmp(b))
}

/// Converts grey or BGRA frames to the BGR the tracker expects.
fn to_bgr(image: Mat) -> Result<Mat> {
    let code = match image.channels() {
        3 if image.typ() == CV_8UC3 => return Ok(image),
        1 => imgproc::COLOR_GRAY2BGR,
        4 => imgproc::COLOR_BGRA2BGR,
        n => bail!(
            "unsupported frame format: {n} channels, type {}",
            image.typ()
        ),
    };
    let mut bgr = Mat::default();
    imgproc::cvt_color_def(&image, &mut bgr, code)?;
    Ok(bgr)
}

impl Source {
    pub fn open(spec: &SourceSpec) -> Result<Self> {
        let mut pending = None;
        let (reader, fps, frame_count) = match spec {
            SourceSpec::Images(dir) => {
                // An OTB sequence folder keeps its frames in img/.
                let otb_frames = dir.join("img");
                let images = list_images(if otb_frames.is_dir() {
                    &otb_frames
                } else {
                    dir
                })?;
                let count = images.len() as u64;
                (Reader::Images(images), 30.0, Some(count))
            }
            _ => {
                let (capture, first) = open_capture_timed(spec)?;
                pending = first;
                let fps = capture.get(videoio::CAP_PROP_FPS)?;
                let count = capture.get(videoio::CAP_PROP_FRAME_COUNT)?;
                let count = (!spec.is_live() && count > 0.0).then_some(count as u64);
                (
                    Reader::Capture(capture),
                    if fps > 0.0 { fps } else { 30.0 },
                    count,
                )
            }
        };
        Ok(Self {
            spec: spec.clone(),
            reader,
            next_index: 0,
            fps,
            frame_count,
            opened: Instant::now(),
            pending,
        })
    }

    pub fn spec(&self) -> &SourceSpec {
        &self.spec
    }

    pub fn fps(&self) -> f64 {
        self.fps
    }

    /// Number of frames, when the source knows it.
    pub fn frame_count(&self) -> Option<u64> {
        self.frame_count
    }

    /// The next frame; `Ok(None)` at the end of the input, `Err` when a frame cannot be decoded.
    pub fn read(&mut self) -> Result<Option<Frame>> {
        let index = self.next_index;
        let image = match &mut self.reader {
            Reader::Images(paths) => {
                let Some(path) = paths.get(index as usize) else {
                    return Ok(None);
                };
                let image = imgcodecs::imread(path, imgcodecs::IMREAD_COLOR)?;
                if image.empty() {
                    bail!("cannot decode image {} (frame {index})", path.display());
                }
                image
            }
            Reader::Capture(_) if self.pending.is_some() => self.pending.take().expect("checked"),
            Reader::Capture(capture) => {
                let mut image = Mat::default();
                if !capture.read(&mut image)? || image.empty() {
                    if let Some(count) = self.frame_count.filter(|&c| index + 1 < c) {
                        bail!(
                            "{}: frame {index} of {count} cannot be decoded (truncated or corrupt video)",
                            self.spec.name()
                        );
                    }
                    return Ok(None);
                }
                image
            }
        };
        self.next_index += 1;
        let captured = Instant::now();
        let timestamp_ms = if self.spec.is_live() {
            captured.duration_since(self.opened).as_secs_f64() * 1000.0
        } else {
            index as f64 * 1000.0 / self.fps
        };
        Ok(Some(Frame {
            index,
            timestamp_ms,
            captured,
            image: to_bgr(image)?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_their_numbers() {
        let mut names = vec![
            "10.jpg",
            "2.jpg",
            "1.jpg",
            "img_011.png",
            "img_9.png",
            "01.jpg",
            "b.jpg",
            "a10.jpg",
        ];
        names.sort_by(|a, b| natural_order(a, b));
        assert_eq!(
            names,
            [
                "01.jpg",
                "1.jpg",
                "2.jpg",
                "10.jpg",
                "a10.jpg",
                "b.jpg",
                "img_9.png",
                "img_011.png"
            ]
        );
    }

    #[test]
    fn file_urls_are_files() {
        let dir = std::env::temp_dir();
        let spec = SourceSpec::parse(&format!("file://{}", dir.display())).unwrap();
        assert!(matches!(spec, SourceSpec::Images(p) if p == dir));
        assert!(matches!(
            SourceSpec::parse("rtsp://camera/stream").unwrap(),
            SourceSpec::Stream(_)
        ));
    }
}
