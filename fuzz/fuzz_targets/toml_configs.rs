//! Every TOML config the commands read: fit spec, hedge config, validation grid, and the
//! allocation's candidate book. The first byte picks the parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    match pick % 4 {
        0 => {
            if let Ok(spec) = volfit::fit::FitSpec::from_toml(text) {
                // A spec that passed its checks must be usable: echo it back.
                let _ = spec.check();
            }
        }
        1 => {
            if let Ok(cfg) = volfit::hedge::HedgeConfig::from_toml(text) {
                let _ = cfg.validate();
            }
        }
        2 => {
            if let Ok(cfg) = volfit::validate::GridConfig::from_toml(text) {
                let _ = cfg.specs();
            }
        }
        _ => {
            let _ = volfit::scenario::Book::from_toml(text, Path::new("book.toml"));
        }
    }
});
