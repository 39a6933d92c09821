//! The mapped-CSV reader: the first line is the `--map` spec, the rest the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use volfit::market::{Format, Mapping, ReadOptions};

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(spec) = std::str::from_utf8(&data[..split]) else { return };
    let Ok(mapping) = Mapping::parse(spec) else { return };
    let body = data.get(split + 1..).unwrap_or_default();
    let opts = ReadOptions { mapping: Some(mapping), ..ReadOptions::default() };
    volfit_fuzz::read_bytes(body, Some(Format::Mapped), opts);
});
