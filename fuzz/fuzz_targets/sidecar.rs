//! Model sidecars: parsing never panics, and a sidecar that validates builds a peak locator without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    siamtrack::fuzzing::check_sidecar(text);
});
