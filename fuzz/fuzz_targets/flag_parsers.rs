//! The parsers behind the CLI's value flags (`--loss`, `--weight`, `--residual`, `--ridge`,
//! `--model`, `--solver`, `--delta`, `--risk`, `--reward`, `--map`, `--snapshot-time`).
//! The first byte picks the parser; a parsed value must print back to one that parses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::fmt::Display;
use std::str::FromStr;

fn round_trip<T: FromStr + Display>(s: &str) {
    if let Ok(v) = s.parse::<T>() {
        let text = v.to_string();
        assert!(text.parse::<T>().is_ok(), "{s:?} printed as {text:?}, which does not parse");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(s) = std::str::from_utf8(rest) else { return };
    match pick % 11 {
        0 => round_trip::<volfit_optim::loss::LossKind>(s),
        1 => round_trip::<volfit::objective::WeightKind>(s),
        2 => round_trip::<volfit::objective::ResidualKind>(s),
        3 => round_trip::<volfit::fit::Ridge>(s),
        4 => round_trip::<volfit::fit::ModelKind>(s),
        5 => round_trip::<volfit::fit::SolverKind>(s),
        6 => {
            round_trip::<volfit::hedge::DeltaKind>(s);
        }
        7 => {
            round_trip::<volfit::risk::RiskMeasure>(s);
        }
        8 => {
            round_trip::<volfit::alloc::RewardSpec>(s);
        }
        9 => {
            let _ = volfit::market::Mapping::parse(s);
        }
        _ => {
            let _ = volfit::market::parse_time_ms(s, false);
        }
    }
});
