//! Any input, format detected from the header as the commands do (so a new format is
//! fuzzed as soon as detection knows it), gzip included.
#![no_main]

use libfuzzer_sys::fuzz_target;
use volfit::market::ReadOptions;

fuzz_target!(|data: &[u8]| {
    volfit_fuzz::read_bytes(data, None, ReadOptions::default());
});
