//! The `siamtrack` command line: a thin layer over the library.

use anyhow::{anyhow, bail, Result};
use clap::{Args, Parser, Subcommand};
use siamtrack::eval::bench::{run_bench, BenchOptions};
use siamtrack::eval::dataset::read_truth;
use siamtrack::eval::peers::TrackerKind;
use siamtrack::eval::{run_eval, run_score, EvalOptions, Outcome, ScoreOptions};
use siamtrack::paths::{check_outputs, find_shipped, use_shipped_runtime};
use siamtrack::pipeline::{self, Ending, InitBox, TrackJob};
use siamtrack::sources::SourceSpec;
use siamtrack::synth::{write_clip, Clip, ClipSpec, Scene};
use siamtrack::tracklog::{per_target_paths, LogFormat, TrackLogWriter};
use siamtrack::BBox;
use siamtrack::ModelConfig;
use siamtrack::{Device, EncoderOptions};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Exit status when a signal (Ctrl-C, SIGTERM) ended the run; the outputs are complete up to that frame.
const EXIT_INTERRUPTED: u8 = 130;
const SAMPLE_VIDEO: &str = "samples/orbit.mp4";
const SAMPLE_TRUTH: &str = "samples/orbit.txt";

static STOP: AtomicBool = AtomicBool::new(false);

#[derive(Parser)]
#[command(
    name = "siamtrack",
    version,
    about = "Real-time video object tracker: one target or several, from files, folders, cameras and streams"
)]
struct Cli {
    /// Show the warnings of OpenCV, FFmpeg and GStreamer too (hidden by default: siamtrack says what went wrong)
    #[arg(long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Track one target or several in a video, an image folder, a camera or a stream.
    /// With no input, tracks the shipped sample headless and writes out/orbit.csv and out/orbit.mp4.
    Track(TrackArgs),
    /// Generate a test clip (a textured target moving over a textured background) with exact ground truth.
    Synth(SynthArgs),
    /// Run trackers over a dataset (OTB, GOT-10k or VOT layout) and score them (OTB one-pass evaluation):
    /// result files, a JSON report, success and precision plots.
    Eval(EvalArgs),
    /// Score existing result files (one folder of `<sequence>.txt` per tracker, OTB text) against a dataset.
    Score(ScoreArgs),
    /// Time each stage of the tracker on a video, folder, camera or stream.
    Bench(BenchArgs),
}

#[derive(Args)]
struct ModelArgs {
    /// Model sidecar (.json) or ONNX file with its sidecar beside it [default: the shipped model]
    #[arg(long)]
    model: Option<PathBuf>,
    /// Where the encoder runs
    #[arg(long, default_value = "cpu", value_parser = parse_device)]
    device: Device,
    /// ONNX Runtime threads (0: all cores)
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Let ONNX Runtime's threads spin between runs (a little faster alone, slower next to decoding)
    #[arg(long)]
    spin: bool,
    /// Override a tracker hyper-parameter of the sidecar, e.g. `--set window_influence=0.3` (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
}

/// `cpu`, `cuda` or `tensorrt`.
fn parse_device(text: &str) -> Result<Device, String> {
    text.parse()
}

fn parse_setting(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').ok_or("expected KEY=VALUE")?;
    Ok((key.trim().to_string(), value.trim().to_string()))
}

impl ModelArgs {
    fn load(&self) -> Result<(ModelConfig, EncoderOptions)> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        if self.threads > 4 * cores {
            bail!(
                "--threads {}: at most {} (4 x the {cores} cores here); 0 uses every core",
                self.threads,
                4 * cores
            );
        }
        use_shipped_runtime()?;
        let (options, fallback) = EncoderOptions {
            device: self.device,
            threads: self.threads,
            spinning: self.spin,
        }
        .or_cpu()?;
        if let Some(reason) = fallback {
            eprintln!("warning: {reason}; the encoder runs on the CPU");
        }
        let mut model = match &self.model {
            Some(path) => ModelConfig::load(path)?,
            None => ModelConfig::shipped(),
        };
        let settings: Vec<(&str, &str)> = self
            .settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        model.set_tracker_params(&settings)?;
        Ok((model, options))
    }
}

#[derive(Args)]
struct TrackArgs {
    /// Video file, image folder, camera index, /dev/video*, GStreamer pipeline (with `!`, ending in appsink) or URL
    input: Option<String>,
    /// Camera to track from (index or /dev/video path), instead of INPUT
    #[arg(long, conflicts_with = "input")]
    camera: Option<String>,
    /// Initial box `x,y,w,h` in 0-based pixels (top-left corner, width, height); repeat it for several targets,
    /// numbered 1, 2, ... in the order given
    #[arg(long, value_parser = BBox::parse, conflicts_with_all = ["init_gt", "select"])]
    bbox: Vec<BBox>,
    /// Initial box from the first valid line of an OTB-style ground-truth file (1-based x,y,w,h); repeat it for
    /// several targets
    #[arg(long, conflicts_with = "select")]
    init_gt: Vec<PathBuf>,
    /// Drag the initial boxes with the mouse on the first frame: Enter or Space adds each box, Enter with no new
    /// box (or Esc) starts tracking
    #[arg(long)]
    select: bool,
    /// Track log; the format follows the extension (.csv, .jsonl, .txt = OTB) unless --format is given
    #[arg(long)]
    log: Option<PathBuf>,
    #[arg(long, value_enum, requires = "log")]
    format: Option<LogFormat>,
    /// Annotated video (e.g. out.mp4)
    #[arg(long)]
    out: Option<PathBuf>,
    /// Show a window (the default when a display exists). Keys: space pause, r re-select, q/Esc quit
    #[arg(long, conflicts_with = "no_display")]
    display: bool,
    /// Track without a window (outputs only), even where a display exists
    #[arg(long)]
    no_display: bool,
    /// Drop stale frames as for a camera, even for a file (played at its frame rate)
    #[arg(long, conflicts_with = "every_frame")]
    live: bool,
    /// Track every frame of a camera or pipeline, never dropping (the output may lag behind)
    #[arg(long)]
    every_frame: bool,
    /// Stop after this many frames
    #[arg(long)]
    max_frames: Option<u64>,
    #[command(flatten)]
    model: ModelArgs,
}

#[derive(Args)]
struct SynthArgs {
    /// A video file (e.g. clip.mp4) or, without extension, an OTB-layout folder (img/0001.jpg...)
    out: PathBuf,
    /// Ground truth (OTB, 1-based) [default: beside a video as .txt, inside a folder as groundtruth_rect.txt]
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Frames in the clip
    #[arg(long, default_value_t = 240)]
    frames: usize,
    /// Frame width, pixels (64 to 8192)
    #[arg(long, default_value_t = 480)]
    width: i32,
    /// Frame height, pixels (64 to 8192)
    #[arg(long, default_value_t = 270)]
    height: i32,
    /// Seed of the clip's random look and path: the same seed gives the same clip
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Frames `START..END` during which the (first) target is out of view; it comes back elsewhere
    #[arg(long, value_parser = parse_range)]
    absent: Option<std::ops::Range<usize>>,
    /// Targets whose paths cross; with several, the ground truth is one file per target (`clip.1.txt`, ...,
    /// or `groundtruth_rect.1.txt`, ... in a folder)
    #[arg(long, default_value_t = 1)]
    targets: usize,
    /// How the targets move: on paths that cross; `passing`: the first stands still in the middle and the others
    /// sweep across it, in front; `nested`: the first is large and the others, small, move inside its box (2 or
    /// more targets for either)
    #[arg(long, value_enum, default_value_t = Scene::Crossing)]
    scene: Scene,
}

/// Trackers named on the command line, e.g. `siamtrack,kcf`.
#[derive(Clone)]
struct TrackerList(Vec<TrackerKind>);

fn parse_trackers(text: &str) -> Result<TrackerList, String> {
    TrackerKind::parse_list(text)
        .map(TrackerList)
        .map_err(|e| e.to_string())
}

#[derive(Args)]
struct EvalArgs {
    /// Dataset folder: one sub-folder per sequence (OTB `img/` + groundtruth_rect.txt, GOT-10k/VOT frames +
    /// groundtruth.txt); list.txt, when present, names the sequences
    dataset: PathBuf,
    /// Trackers, comma-separated: siamtrack, kcf, csrt, mil (OpenCV's; KCF keeps its last box when its peak is weak); they run on identical frames
    #[arg(long, value_parser = parse_trackers, default_value = "siamtrack")]
    tracker: TrackerList,
    /// Sequences to run, comma-separated: folders, or `<folder>-<n>` for target n of a folder with several
    /// [default: list.txt, else every sub-folder]
    #[arg(long, value_delimiter = ',')]
    sequences: Option<Vec<String>>,
    /// Result files go to DIR/<tracker>/<sequence>.txt (OTB text, 1-based)
    #[arg(long, default_value = "out/results")]
    results_dir: PathBuf,
    /// JSON report [default: <results-dir>/report.json]
    #[arg(long)]
    report: Option<PathBuf>,
    /// Folder of success.png and precision.png [default: the report's folder]
    #[arg(long)]
    plots: Option<PathBuf>,
    /// Measure the box's size on its own: after each frame siamtrack's box is moved to the truth's centre, its size
    /// kept, so the scores say how well the size follows the target
    #[arg(long)]
    size_only: bool,
    #[command(flatten)]
    model: ModelArgs,
}

#[derive(Args)]
struct ScoreArgs {
    /// Dataset folder (as for eval)
    dataset: PathBuf,
    /// Results folders, one per tracker (named by the folder), holding <sequence>.txt in OTB text (1-based x,y,w,h)
    #[arg(required = true)]
    results: Vec<PathBuf>,
    /// Sequences to score (as for eval)
    #[arg(long, value_delimiter = ',')]
    sequences: Option<Vec<String>>,
    /// JSON report
    #[arg(long, default_value = "out/score/report.json")]
    report: PathBuf,
    /// Folder of success.png and precision.png [default: the report's folder]
    #[arg(long)]
    plots: Option<PathBuf>,
}

#[derive(Args)]
struct BenchArgs {
    /// Video file, image folder, camera index, /dev/video*, GStreamer pipeline or URL
    input: String,
    /// Initial box `x,y,w,h` in 0-based pixels; repeat it for several targets
    #[arg(long, value_parser = BBox::parse, conflicts_with = "init_gt")]
    bbox: Vec<BBox>,
    /// Initial box from the first valid line of an OTB-style ground-truth file (1-based x,y,w,h); repeat it for
    /// several targets
    #[arg(long)]
    init_gt: Vec<PathBuf>,
    /// Stop after this many frames (the init frame included)
    #[arg(long)]
    max_frames: Option<u64>,
    /// Updates left out of the statistics at the start
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Print the statistics as JSON
    #[arg(long)]
    json: bool,
    /// Track this many targets at once (one `MultiTracker`): the first boxes given, or copies of a single box side
    /// by side; the cost of several targets [default: every box given]
    #[arg(long)]
    targets: Option<usize>,
    #[command(flatten)]
    model: ModelArgs,
}

fn parse_range(text: &str) -> Result<std::ops::Range<usize>, String> {
    let (a, b) = text.split_once("..").ok_or("expected START..END")?;
    let (a, b) = (
        a.parse().map_err(|_| "bad START")?,
        b.parse().map_err(|_| "bad END")?,
    );
    if a >= b {
        return Err("START must be below END".into());
    }
    Ok(a..b)
}

/// The targets' initial boxes from `--bbox` (0-based) or else `--init-gt` files, in the order given; empty when
/// neither was given.
fn given_boxes(bbox: Vec<BBox>, init_gt: &[PathBuf]) -> Result<Vec<BBox>> {
    if !bbox.is_empty() {
        return Ok(bbox);
    }
    init_gt.iter().map(|gt| first_truth_box(gt)).collect()
}

/// The first valid box of an OTB-style ground-truth file, converted to 0-based pixels.
fn first_truth_box(path: &Path) -> Result<BBox> {
    let (truth, _) = read_truth(path, true)?;
    let first = truth
        .iter()
        .position(Option::is_some)
        .ok_or_else(|| anyhow!("ground truth {} holds no box", path.display()))?;
    if first > 0 {
        eprintln!(
            "warning: the target first appears on line {} of {}; tracking starts on the first frame with that box",
            first + 1,
            path.display()
        );
    }
    Ok(truth[first].expect("found above"))
}

/// Whether a window can be opened: the X server `DISPLAY` names answers (its socket, or its TCP port), or the
/// Wayland socket exists. Checked before any window is opened, as a toolkit that finds no display aborts the
/// process.
fn display_reachable() -> Result<(), String> {
    use std::time::Duration;
    if let Some(wayland) = std::env::var_os("WAYLAND_DISPLAY") {
        let runtime = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .unwrap_or_default();
        if runtime.join(&wayland).exists() {
            return Ok(());
        }
    }
    let Some(display) = std::env::var("DISPLAY").ok().filter(|d| !d.is_empty()) else {
        return Err("no display (DISPLAY is not set)".into());
    };
    let unreachable = || format!("the display {display} cannot be reached");
    let (host, rest) = display.rsplit_once(':').ok_or_else(unreachable)?;
    let number: u16 = rest
        .split('.')
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(unreachable)?;
    let reached = if host.is_empty() || host == "unix" {
        std::os::unix::net::UnixStream::connect(format!("/tmp/.X11-unix/X{number}")).is_ok()
    } else {
        use std::net::ToSocketAddrs;
        (host, 6000 + number)
            .to_socket_addrs()
            .ok()
            .and_then(|mut addresses| addresses.next())
            .is_some_and(|address| {
                std::net::TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_ok()
            })
    };
    reached.then_some(()).ok_or_else(unreachable)
}

fn track(args: TrackArgs) -> Result<ExitCode> {
    let (model, encoder) = args.model.load()?;
    let sample = args.input.is_none() && args.camera.is_none();
    if sample && !(args.bbox.is_empty() && args.init_gt.is_empty() && !args.select) {
        bail!(
            "--bbox, --init-gt and --select need an input (INPUT or --camera); with none, `siamtrack track` tracks \
             the shipped sample"
        );
    }
    let (source, init_gt) = if sample {
        let video = find_shipped(SAMPLE_VIDEO)
            .ok_or_else(|| anyhow!("the sample {SAMPLE_VIDEO} is missing"))?;
        let truth = find_shipped(SAMPLE_TRUTH)
            .ok_or_else(|| anyhow!("the sample {SAMPLE_TRUTH} is missing"))?;
        (SourceSpec::Video(video), vec![truth])
    } else {
        let input = args.camera.or(args.input).expect("one is given");
        (SourceSpec::parse(&input)?, args.init_gt)
    };
    let boxes = given_boxes(args.bbox, &init_gt)?;
    for (k, bbox) in boxes.iter().enumerate() {
        if let Some(first) = boxes[..k].iter().position(|b| b == bbox) {
            eprintln!(
                "warning: targets {} and {} start from the same box {bbox}: they will follow the same object",
                first + 1,
                k + 1
            );
        }
    }
    let init = if !boxes.is_empty() {
        InitBox::Boxes(boxes)
    } else if args.select {
        InitBox::Select
    } else {
        bail!("give the initial box with --bbox x,y,w,h, --init-gt FILE or --select")
    };
    let (log, video) = if sample && args.log.is_none() && args.out.is_none() {
        (
            Some(PathBuf::from("out/orbit.csv")),
            Some(PathBuf::from("out/orbit.mp4")),
        )
    } else {
        (args.log, args.out)
    };
    if let Some(path) = &video {
        const VIDEO: [&str; 5] = ["mp4", "m4v", "mov", "avi", "mkv"];
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !extension.is_some_and(|e| VIDEO.contains(&e.as_str())) {
            bail!(
                "--out {}: the annotated video needs a video file name ({})",
                path.display(),
                VIDEO.map(|e| format!(".{e}")).join(", ")
            );
        }
    }
    let log = match log {
        Some(path) => {
            let format = match args.format {
                Some(f) => f,
                None => LogFormat::from_path(&path)?,
            };
            Some((path, format))
        }
        None => None,
    };
    let mut inputs = vec![];
    if let SourceSpec::Video(path) = &source {
        inputs.push(("input", path.clone()));
    }
    inputs.extend(init_gt.iter().map(|p| ("ground truth", p.clone())));
    let targets = match &init {
        InitBox::Boxes(boxes) => boxes.len(),
        InitBox::Select => 1,
    };
    let mut outputs: Vec<(&str, PathBuf)> = log
        .iter()
        .flat_map(|(path, format)| TrackLogWriter::paths(path, *format, targets))
        .map(|p| ("log", p))
        .collect();
    outputs.extend(video.iter().map(|p| ("video", p.clone())));
    check_outputs(&inputs, &outputs)?;
    let wanted = !args.no_display && !sample;
    let display = match (wanted, display_reachable()) {
        (false, _) => false,
        (true, Ok(())) => true,
        (true, Err(why)) if args.display || matches!(init, InitBox::Select) => {
            bail!("cannot open a window: {why} (--display and --select need one)")
        }
        (true, Err(why)) => {
            if std::env::var_os("DISPLAY").is_some()
                || std::env::var_os("WAYLAND_DISPLAY").is_some()
            {
                eprintln!("warning: {why}; tracking without a window");
            }
            false
        }
    };
    let job = TrackJob {
        source,
        live: (args.live || args.every_frame).then_some(args.live),
        init,
        model,
        encoder,
        log,
        video,
        display,
        progress: true,
        max_frames: args.max_frames,
    };
    let summary = pipeline::run(&job, &STOP)?;
    println!(
        "tracked {} frames of {} in {:.2} s: {:.1} fps end to end, tracker {:.1} ms/frame, {} frames dropped",
        summary.frames,
        job.source.name(),
        summary.seconds,
        summary.fps(),
        summary.tracker_ms,
        summary.dropped,
    );
    println!(
        "start-up: model load {:.0} ms{}",
        summary.model_load_ms,
        if summary.first_frame_ms.is_finite() {
            format!(", first frame {:.0} ms", summary.first_frame_ms)
        } else {
            String::new()
        }
    );
    match summary.states.as_slice() {
        [one] => println!("states: {one}"),
        several => {
            for (k, counts) in several.iter().enumerate() {
                println!("target {}: {counts}", k + 1);
            }
        }
    }
    if let Some((path, format)) = &job.log {
        let files = TrackLogWriter::paths(path, *format, summary.states.len().max(1));
        let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        println!("log: {} ({format:?})", names.join(", "));
    }
    if let Some(path) = &job.video {
        println!("video: {}", path.display());
    }
    if let Some(error) = summary.error {
        eprintln!("error: {error:#}");
        eprintln!(
            "the outputs hold the {} frames tracked before the error",
            summary.frames
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(match summary.ending {
        Ending::Stopped => {
            eprintln!(
                "interrupted: the outputs hold the {} frames tracked so far",
                summary.frames
            );
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Ending::UserQuit | Ending::EndOfInput => ExitCode::SUCCESS,
    })
}

fn synth(args: SynthArgs) -> Result<ExitCode> {
    let clip = Clip::new(ClipSpec {
        width: args.width,
        height: args.height,
        frames: args.frames,
        seed: args.seed,
        absent: args.absent,
        targets: args.targets,
        scene: args.scene,
    })?;
    let truth = args.truth.unwrap_or_else(|| {
        if args.out.extension().is_some() {
            args.out.with_extension("txt")
        } else {
            args.out.join("groundtruth_rect.txt")
        }
    });
    write_clip(&clip, &args.out, &truth)?;
    let truths: Vec<String> = per_target_paths(&truth, args.targets)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    println!("wrote {} and {}", args.out.display(), truths.join(", "));
    Ok(ExitCode::SUCCESS)
}

fn report_outcome(outcome: &Outcome, report: &Path) -> ExitCode {
    print!("{}", outcome.report.table());
    println!("report: {}", report.display());
    for plot in &outcome.plots {
        println!("plot: {}", plot.display());
    }
    if outcome.interrupted {
        eprintln!(
            "interrupted: the report and the result files hold the {} sequence(s) finished before the signal",
            outcome.report.trackers.first().map_or(0, |t| t.sequences.len())
        );
        return ExitCode::from(EXIT_INTERRUPTED);
    }
    if outcome.failed() {
        eprintln!(
            "error: {} sequence(s) failed:",
            outcome.report.failures.len()
        );
        for f in &outcome.report.failures {
            eprintln!("  {}", f.error);
        }
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn eval(args: EvalArgs) -> Result<ExitCode> {
    let trackers = args.tracker.0;
    let model = if trackers.contains(&TrackerKind::Siamtrack) {
        Some(args.model.load()?)
    } else {
        None
    };
    let report = args
        .report
        .unwrap_or_else(|| args.results_dir.join("report.json"));
    let plots_dir = args
        .plots
        .unwrap_or_else(|| report.parent().map(Path::to_path_buf).unwrap_or_default());
    let outcome = run_eval(
        &EvalOptions {
            dataset: args.dataset,
            trackers,
            sequences: args.sequences,
            results_dir: args.results_dir,
            report: report.clone(),
            plots_dir,
            model,
            size_only: args.size_only,
            progress: true,
        },
        &STOP,
    )?;
    Ok(report_outcome(&outcome, &report))
}

fn score(args: ScoreArgs) -> Result<ExitCode> {
    let plots_dir = args.plots.unwrap_or_else(|| {
        args.report
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    });
    let outcome = run_score(&ScoreOptions {
        dataset: args.dataset,
        results: args.results,
        sequences: args.sequences,
        report: args.report.clone(),
        plots_dir,
    })?;
    Ok(report_outcome(&outcome, &args.report))
}

fn bench(args: BenchArgs) -> Result<ExitCode> {
    let (model, encoder) = args.model.load()?;
    let init = given_boxes(args.bbox, &args.init_gt)?;
    if init.is_empty() {
        bail!("give the initial box with --bbox x,y,w,h or --init-gt FILE");
    }
    let report = run_bench(
        &BenchOptions {
            source: SourceSpec::parse(&args.input)?,
            model,
            encoder,
            max_frames: args.max_frames,
            warmup: args.warmup,
            targets: args.targets.unwrap_or(init.len()),
            init,
        },
        &STOP,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    // A closed pipe (`siamtrack ... | head`) ends the process quietly, as it does any Unix tool, instead of a
    // failed print.
    // SAFETY: restoring a signal's default disposition before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    if !cli.verbose {
        siamtrack::sources::quiet_libraries();
    }
    // First signal (SIGINT, SIGTERM, SIGHUP): stop reading, finish the outputs. Second: leave at once, without
    // running exit handlers (ONNX Runtime's threads may still be running).
    let handler = ctrlc::set_handler(|| {
        if STOP.swap(true, Ordering::SeqCst) {
            // SAFETY: _exit ends the process at once; nothing in this process is left to clean up.
            unsafe { libc::_exit(EXIT_INTERRUPTED.into()) }
        }
    });
    if let Err(e) = handler {
        eprintln!("warning: cannot install the Ctrl-C handler: {e}");
    }
    let result = match cli.command {
        Command::Track(args) => track(args),
        Command::Synth(args) => synth(args),
        Command::Eval(args) => eval(args),
        Command::Score(args) => score(args),
        Command::Bench(args) => bench(args),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
}
