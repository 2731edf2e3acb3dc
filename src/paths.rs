//! Finding the files that ship with siamtrack (models, samples, the ONNX Runtime library) from wherever it runs.

use std::path::PathBuf;

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
