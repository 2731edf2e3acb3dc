//! Ground-truth files (OTB, GOT-10k, VOT polygons): parsing never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    siamtrack::fuzzing::check_ground_truth(text);
});
