//! Finding the files that ship with siamtrack (models, samples, the ONNX Runtime library) from wherever it runs.

use std::path::{Path, PathBuf};

/// The first existing `relative` path under the current directory, the executable's folder or its ancestors
/// (`target/release/siamtrack` sits two levels below the source tree), or the source tree it was built from.
pub fn find_shipped(relative: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok();
    let exe_dirs = exe.iter().flat_map(|e| e.ancestors().skip(1).take(4));
    std::iter::once(PathBuf::from("."))
        .chain(exe_dirs.map(PathBuf::from))
        .chain([PathBuf::from(env!("CARGO_MANIFEST_DIR"))])
        .map(|dir| dir.join(relative))
        .find(|path| path.exists())
}

/// The model `siamtrack` uses when none is named, relative to the install or source tree.
pub const DEFAULT_MODEL: &str = "models/effnet_lite0_s8_int8.json";

/// Where `scripts/setup.sh` puts the ONNX Runtime library, relative to the source tree.
const RUNTIME_LIBRARY: &str = ".ort/libonnxruntime.so.1.31.1";

/// Names the ONNX Runtime library for the tracking core: `ORT_DYLIB_PATH` when set (cargo sets it from
/// .cargo/config.toml), else the copy that scripts/setup.sh puts in `.ort/` of the source tree.
pub fn use_shipped_runtime() -> anyhow::Result<()> {
    let library = std::env::var_os("ORT_DYLIB_PATH")
        .map(PathBuf::from)
        .or_else(|| find_shipped(RUNTIME_LIBRARY))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "ONNX Runtime library {RUNTIME_LIBRARY} not found: run scripts/setup.sh or set ORT_DYLIB_PATH"
            )
        })?;
    Ok(siamtrack_core::set_runtime_library(library)?)
}

/// Where `path` is, or would be once created: its canonical form, or its parent's with its name (`None` when
/// neither resolves).
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(path) = path.canonicalize() {
        return Some(path);
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(parent.canonicalize().ok()?.join(path.file_name()?))
}

/// Refuses outputs that would overwrite an input or each other: each output must resolve to a place no input and
/// no other output does (links followed).
pub fn check_outputs(
    inputs: &[(&str, PathBuf)],
    outputs: &[(&str, PathBuf)],
) -> anyhow::Result<()> {
    for (k, (what, output)) in outputs.iter().enumerate() {
        let Some(place) = resolved(output) else {
            continue;
        };
        let clash = inputs
            .iter()
            .map(|(kind, p)| (kind, p, "writing it would destroy an input"))
            .chain(
                outputs[..k]
                    .iter()
                    .map(|(kind, p)| (kind, p, "the two would overwrite each other")),
            )
            .find(|(_, p, _)| resolved(p).as_ref() == Some(&place));
        if let Some((kind, other, consequence)) = clash {
            anyhow::bail!(
                "the {what} {} is the {kind} {}: {consequence}; choose another file",
                output.display(),
                other.display()
            );
        }
    }
    Ok(())
}
