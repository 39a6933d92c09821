//! The candidate book (`candidates.toml`): named instruments and selection rules.
//!
//! ```toml
//! [[instrument]]
//! name = "BTC-27MAR26-100000-C"   # option; "BTC-27MAR26" = future; "BTC-PERPETUAL"
//! min = -5                        # optional limits, units
//! max = 5
//!
//! [[select]]                      # liquid instruments of the valuation snapshot
//! coin = "ETH"
//! expiries = 3                    # nearest expiries at least `min_days` out
//! strikes_per_expiry = 6          # two-sided strikes nearest the forward
//! calls = true
//! puts = true
//! futures = true                  # the future of each selected expiry
//! perpetual = false
//! min_days = 2
//! ```

use super::surface::{candidate, option_priced, Inst, Priced};
use super::{Candidate, CandidateKind, Coin, CoinSurface, ScenarioConfig, ScenarioError};
use crate::market::{OptionType, Snapshot};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;
use toml::Spanned;

/// One named instrument.
#[derive(Clone, Debug, PartialEq)]
pub struct BookInstrument {
    /// Deribit name.
    pub name: String,
    /// Smallest position (units), default from the config.
    pub min: Option<f64>,
    /// Largest position (units), default from the config.
    pub max: Option<f64>,
    /// Line in the book file.
    pub line: usize,
}

/// A selection rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Select {
    /// Coin.
    pub coin: Coin,
    /// Number of expiries (nearest first, at least `min_days` out).
    pub expiries: usize,
    /// Strikes per expiry (two-sided, nearest the forward).
    pub strikes_per_expiry: usize,
    /// Include calls.
    pub calls: bool,
    /// Include puts.
    pub puts: bool,
    /// Include each selected expiry's future.
    pub futures: bool,
    /// Include the perpetual.
    pub perpetual: bool,
    /// Smallest days to expiry.
    pub min_days: f64,
    /// Limits for the selected instruments (units).
    pub min: Option<f64>,
    /// See `min`.
    pub max: Option<f64>,
    /// Line in the book file.
    pub line: usize,
}

/// A parsed candidate book.
#[derive(Clone, Debug, PartialEq)]
pub struct Book {
    /// The file it came from (for messages).
    pub file: String,
    /// Named instruments.
    pub instruments: Vec<BookInstrument>,
    /// Selection rules.
    pub selects: Vec<Select>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBook {
    #[serde(default)]
    instrument: Vec<RawInstrument>,
    #[serde(default)]
    select: Vec<RawSelect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInstrument {
    name: Spanned<String>,
    min: Option<Spanned<f64>>,
    max: Option<Spanned<f64>>,
}

fn yes() -> bool {
    true
}
fn three() -> usize {
    3
}
fn five() -> usize {
    5
}
fn two_days() -> f64 {
    2.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSelect {
    coin: Spanned<String>,
    #[serde(default = "three")]
    expiries: usize,
    #[serde(default = "five")]
    strikes_per_expiry: usize,
    #[serde(default = "yes")]
    calls: bool,
    #[serde(default = "yes")]
    puts: bool,
    #[serde(default)]
    futures: bool,
    #[serde(default)]
    perpetual: bool,
    #[serde(default = "two_days")]
    min_days: f64,
    min: Option<Spanned<f64>>,
    max: Option<Spanned<f64>>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

impl Book {
    /// Parses `candidates.toml`; errors name `path`, the line and the field.
    ///
    /// # Errors
    /// [`ScenarioError::Book`].
    pub fn from_toml(text: &str, path: &Path) -> Result<Book, ScenarioError> {
        let file = path.display().to_string();
        let err = |line: usize, field: &str, msg: String| ScenarioError::Book {
            file: file.clone(),
            line,
            field: field.into(),
            msg,
        };
        let raw: RawBook = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            let msg = e.message().to_string();
            let field = msg
                .split('`')
                .nth(1)
                .filter(|_| msg.contains("field"))
                .unwrap_or("(syntax)")
                .to_string();
            err(line, &field, msg)
        })?;
        let limit = |v: &Option<Spanned<f64>>, field: &str| -> Result<Option<f64>, ScenarioError> {
            match v {
                Some(s) if !s.get_ref().is_finite() => {
                    Err(err(line_of(text, s.span().start), field, "must be a finite number".into()))
                }
                Some(s) => Ok(Some(*s.get_ref())),
                None => Ok(None),
            }
        };
        let check_pair = |min: Option<f64>, max: Option<f64>, line: usize| match (min, max) {
            (Some(a), Some(b)) if a > b => {
                Err(err(line, "min", format!("min = {a} exceeds max = {b}")))
            }
            _ => Ok(()),
        };
        let mut instruments = Vec::new();
        for r in &raw.instrument {
            let line = line_of(text, r.name.span().start);
            let name = r.name.get_ref().trim().to_string();
            let parts: Vec<&str> = name.split('-').collect();
            let ok_shape = (parts.len() == 2 || parts.len() == 4)
                && Coin::parse(parts[0]).is_some()
                && (parts.len() == 2 || matches!(parts[3], "C" | "P"))
                && (parts.len() == 2 || parts[2].parse::<f64>().is_ok_and(|k| k > 0.0));
            if !ok_shape {
                return Err(err(
                    line,
                    "name",
                    format!(
                        "{name:?} is not a Deribit BTC/ETH name (BTC-27MAR26-100000-C, \
                         BTC-27MAR26 or BTC-PERPETUAL)"
                    ),
                ));
            }
            let (min, max) = (limit(&r.min, "min")?, limit(&r.max, "max")?);
            check_pair(min, max, line)?;
            instruments.push(BookInstrument { name, min, max, line });
        }
        let mut selects = Vec::new();
        for r in &raw.select {
            let line = line_of(text, r.coin.span().start);
            let coin = Coin::parse(r.coin.get_ref()).ok_or_else(|| {
                err(line, "coin", format!("{:?}: expected BTC or ETH", r.coin.get_ref()))
            })?;
            if !(r.min_days >= 0.0) {
                return Err(err(line, "min_days", "must be ≥ 0".into()));
            }
            let (min, max) = (limit(&r.min, "min")?, limit(&r.max, "max")?);
            check_pair(min, max, line)?;
            selects.push(Select {
                coin,
                expiries: r.expiries,
                strikes_per_expiry: r.strikes_per_expiry,
                calls: r.calls,
                puts: r.puts,
                futures: r.futures,
                perpetual: r.perpetual,
                min_days: r.min_days,
                min,
                max,
                line,
            });
        }
        if instruments.is_empty() && selects.is_empty() {
            return Err(err(
                1,
                "instrument",
                "the book has no [[instrument]] and no [[select]]".into(),
            ));
        }
        Ok(Book { file, instruments, selects })
    }

    /// The coins the book refers to, each checked to have a snapshot.
    pub(crate) fn coins(&self, snapshots: &[Snapshot]) -> Result<Vec<Coin>, ScenarioError> {
        let mut coins = BTreeSet::new();
        for i in &self.instruments {
            coins.insert((Coin::parse(i.name.split('-').next().unwrap_or("")), i.line));
        }
        for s in &self.selects {
            coins.insert((Some(s.coin), s.line));
        }
        let mut out: Vec<Coin> = Vec::new();
        for (c, line) in coins {
            let Some(c) = c else { continue };
            if !snapshots.iter().any(|s| s.underlying.eq_ignore_ascii_case(&c.to_string())) {
                return Err(ScenarioError::Book {
                    file: self.file.clone(),
                    line,
                    field: "name".into(),
                    msg: format!("no {c} snapshot among the inputs"),
                });
            }
            if !out.contains(&c) {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Resolves the book against the valuation surfaces (in [`Book::coins`] order).
    pub(crate) fn resolve(
        &self,
        surfaces: &[CoinSurface],
        cfg: &ScenarioConfig,
    ) -> Result<Vec<(Candidate, Priced)>, ScenarioError> {
        let mut out: Vec<(Candidate, Priced)> = Vec::new();
        let mut seen = BTreeSet::new();
        let surf_of = |c: Coin| surfaces.iter().position(|s| s.coin == c);
        let snap_quotes = |si: usize, code: &str| {
            let s = &surfaces[si];
            s.expiries.iter().find(|e| e.code.eq_ignore_ascii_case(code)).cloned()
        };
        for ins in &self.instruments {
            let bad = |msg: String| ScenarioError::Book {
                file: self.file.clone(),
                line: ins.line,
                field: "name".into(),
                msg,
            };
            let parts: Vec<&str> = ins.name.split('-').collect();
            let coin = Coin::parse(parts[0]).ok_or_else(|| bad("unknown coin".into()))?;
            let si = surf_of(coin).ok_or_else(|| bad(format!("no {coin} snapshot")))?;
            let surf = &surfaces[si];
            let (min, max) =
                (ins.min.unwrap_or(cfg.default_min), ins.max.unwrap_or(cfg.default_max));
            let item = if parts[1].eq_ignore_ascii_case("PERPETUAL") {
                let p =
                    Priced { surface: si, inst: Inst::Perpetual { spot: surf.spot }, value0: 0.0 };
                (candidate(ins.name.clone(), coin, &p, None, None, min, max), p)
            } else if parts.len() == 2 {
                let e = snap_quotes(si, parts[1]).ok_or_else(|| {
                    bad(format!("no {coin} expiry {} in the valuation snapshot", parts[1]))
                })?;
                future_item(ins.name.clone(), coin, si, &e, min, max)
            } else {
                let e = snap_quotes(si, parts[1]).ok_or_else(|| {
                    bad(format!("no {coin} expiry {} in the valuation snapshot", parts[1]))
                })?;
                let strike: f64 = parts[2].parse().map_err(|_| bad("bad strike".into()))?;
                let kind = if parts[3] == "C" { OptionType::Call } else { OptionType::Put };
                let (mid, spread) = quote_of(surf, &ins.name);
                let p = option_priced(si, surf, &e, strike, kind)
                    .ok_or_else(|| bad("no fitted smile at this expiry".into()))?;
                (candidate(ins.name.clone(), coin, &p, mid, spread, min, max), p)
            };
            if seen.insert(item.0.name.clone()) {
                out.push(item);
            }
        }
        for sel in &self.selects {
            let si = surf_of(sel.coin).expect("coins() checked every select's coin");
            let surf = &surfaces[si];
            let (min, max) =
                (sel.min.unwrap_or(cfg.default_min), sel.max.unwrap_or(cfg.default_max));
            if sel.perpetual {
                let name = format!("{}-PERPETUAL", sel.coin);
                let p =
                    Priced { surface: si, inst: Inst::Perpetual { spot: surf.spot }, value0: 0.0 };
                if seen.insert(name.clone()) {
                    out.push((candidate(name, sel.coin, &p, None, None, min, max), p));
                }
            }
            let expiries = surf
                .expiries
                .iter()
                .filter(|e| e.t * 365.0 >= sel.min_days && !e.code.is_empty())
                .take(sel.expiries);
            for e in expiries {
                if sel.futures {
                    let name = format!("{}-{}", sel.coin, e.code);
                    if seen.insert(name.clone()) {
                        out.push(future_item(name, sel.coin, si, e, min, max));
                    }
                }
                for (name, strike, kind, mid, spread) in liquid_strikes(surf, e.expiry_ms, sel) {
                    if !seen.insert(name.clone()) {
                        continue;
                    }
                    if let Some(p) = option_priced(si, surf, e, strike, kind) {
                        out.push((candidate(name, sel.coin, &p, mid, spread, min, max), p));
                    }
                }
            }
        }
        if out.is_empty() {
            return Err(ScenarioError::Data(format!(
                "{}: the book resolves to no instrument of the valuation snapshots",
                self.file
            )));
        }
        Ok(out)
    }
}

fn future_item(
    name: String,
    coin: Coin,
    si: usize,
    e: &super::surface::ExpiryInfo,
    min: f64,
    max: f64,
) -> (Candidate, Priced) {
    let p = Priced { surface: si, inst: Inst::Future { forward: e.forward }, value0: 0.0 };
    let mut c = candidate(name, coin, &p, None, None, min, max);
    c.kind = CandidateKind::Future { expiry_t_years: e.t };
    (c, p)
}

/// Mid and spread (USD) of the quoted instrument `name` in the valuation snapshot's data.
fn quote_of(surf: &CoinSurface, name: &str) -> (Option<f64>, Option<f64>) {
    surf.quotes.iter().find(|q| q.0 == name).map(|q| (q.1, q.2)).unwrap_or((None, None))
}

/// A selected option: (name, strike, kind, mid, spread).
type Liquid = (String, f64, OptionType, Option<f64>, Option<f64>);

/// Two-sided strikes of an expiry nearest the forward.
fn liquid_strikes(surf: &CoinSurface, expiry_ms: i64, sel: &Select) -> Vec<Liquid> {
    let Some(e) = surf.expiries.iter().find(|e| e.expiry_ms == expiry_ms) else {
        return Vec::new();
    };
    let mut strikes: Vec<f64> = surf
        .quotes
        .iter()
        .filter(|q| q.3 == expiry_ms && q.1.is_some() && q.2.is_some())
        .map(|q| q.4)
        .collect();
    strikes.sort_by(|a, b| (a / e.forward).ln().abs().total_cmp(&(b / e.forward).ln().abs()));
    strikes.dedup();
    let mut chosen: Vec<f64> = Vec::new();
    for k in strikes {
        if !chosen.contains(&k) {
            chosen.push(k);
        }
        if chosen.len() >= sel.strikes_per_expiry {
            break;
        }
    }
    let mut out = Vec::new();
    for k in chosen {
        for (want, kind, letter) in
            [(sel.calls, OptionType::Call, "C"), (sel.puts, OptionType::Put, "P")]
        {
            if !want {
                continue;
            }
            let name = format!("{}-{}-{}-{}", surf.coin, e.code, fmt_strike(k), letter);
            let (mid, spread) = quote_of(surf, &name);
            out.push((name, k, kind, mid, spread));
        }
    }
    out
}

fn fmt_strike(k: f64) -> String {
    if k.fract() == 0.0 {
        format!("{k:.0}")
    } else {
        format!("{k}")
    }
}
