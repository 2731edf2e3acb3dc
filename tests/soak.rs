//! The soak test at a size CI can afford; `scripts/benchmarks/soak.sh 100000` is the full run.

#[test]
fn memory_descriptors_and_fps_stay_flat() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/benchmarks/soak.sh"
        ))
        .args(["1000", out_dir.path().to_str().unwrap()])
        .env("SIAMTRACK", env!("CARGO_BIN_EXE_siamtrack"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("soak: PASS"), "{stdout}");
    assert!(out.status.success());
}
