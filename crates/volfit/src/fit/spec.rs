//! The fit specification as data: which model, how misses are measured and weighted, which
//! robust loss and penalties, which solver. Read from TOML (`--config fit.toml`), overridden
//! by CLI flags, and echoed into every output so a fit can be reproduced.

pub use crate::model::ModelKind;
use crate::objective::{ParseKindError, ResidualKind, WeightKind};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use volfit_optim::loss::LossKind;

/// Which solver drives the fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SolverKind {
    /// Levenberg–Marquardt on Triggs-corrected residuals.
    #[default]
    Lm,
    /// L-BFGS with strong-Wolfe line search (in free coordinates).
    Lbfgs,
    /// L-BFGS-B with true box bounds.
    Lbfgsb,
    /// Gradient descent with backtracking.
    Gd,
    /// Heavy-ball momentum.
    Momentum,
    /// Nesterov accelerated gradient.
    Nesterov,
    /// Adam.
    Adam,
    /// AdamW (decoupled weight decay).
    Adamw,
    /// RMSProp.
    Rmsprop,
    /// Nelder–Mead simplex.
    NelderMead,
    /// Differential evolution, polished by LM.
    De,
    /// CMA-ES, polished by LM.
    Cmaes,
}

impl SolverKind {
    /// All solvers, in CLI order.
    pub const ALL: [SolverKind; 12] = [
        SolverKind::Lm,
        SolverKind::Lbfgs,
        SolverKind::Lbfgsb,
        SolverKind::Gd,
        SolverKind::Momentum,
        SolverKind::Nesterov,
        SolverKind::Adam,
        SolverKind::Adamw,
        SolverKind::Rmsprop,
        SolverKind::NelderMead,
        SolverKind::De,
        SolverKind::Cmaes,
    ];
    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            SolverKind::Lm => "lm",
            SolverKind::Lbfgs => "lbfgs",
            SolverKind::Lbfgsb => "lbfgsb",
            SolverKind::Gd => "gd",
            SolverKind::Momentum => "momentum",
            SolverKind::Nesterov => "nesterov",
            SolverKind::Adam => "adam",
            SolverKind::Adamw => "adamw",
            SolverKind::Rmsprop => "rmsprop",
            SolverKind::NelderMead => "nelder-mead",
            SolverKind::De => "de",
            SolverKind::Cmaes => "cmaes",
        }
    }
}

macro_rules! named_enum {
    ($t:ty, $what:literal) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
        impl FromStr for $t {
            type Err = ParseKindError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t>::ALL.into_iter().find(|k| k.name() == s.trim()).ok_or_else(|| ParseKindError {
                    what: $what,
                    got: s.to_string(),
                    expected: <$t>::ALL.map(|k| k.name()).join("|"),
                })
            }
        }
    };
}
named_enum!(ModelKind, "model");
named_enum!(SolverKind, "solver");

/// Where ridge shrinks toward.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RidgeTarget {
    /// Toward the previous snapshot's fit (zero ridge on the first snapshot).
    #[default]
    Prev,
    /// Toward zero (in the optimizer's free coordinates).
    Zero,
}

/// Ridge penalty `λ Σ (x_j − p_j)²`, CLI syntax `L`, `L:prev` or `L:zero`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ridge {
    /// Strength λ ≥ 0.
    pub lambda: f64,
    /// Shrinkage target.
    pub toward: RidgeTarget,
}

impl fmt::Display for Ridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = match self.toward {
            RidgeTarget::Prev => "prev",
            RidgeTarget::Zero => "zero",
        };
        write!(f, "{}:{t}", self.lambda)
    }
}

impl FromStr for Ridge {
    type Err = ParseKindError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseKindError {
            what: "ridge",
            got: s.to_string(),
            expected: "L, L:prev or L:zero with L ≥ 0".into(),
        };
        let (l, t) = s.split_once(':').unwrap_or((s, "prev"));
        let lambda: f64 = l.trim().parse().map_err(|_| err())?;
        if !(lambda.is_finite() && lambda >= 0.0) {
            return Err(err());
        }
        let toward = match t.trim() {
            "prev" => RidgeTarget::Prev,
            "zero" => RidgeTarget::Zero,
            _ => return Err(err()),
        };
        Ok(Ridge { lambda, toward })
    }
}

impl TryFrom<String> for Ridge {
    type Error = ParseKindError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Ridge> for String {
    fn from(r: Ridge) -> String {
        r.to_string()
    }
}

/// Which quotes enter a fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuoteFilter {
    /// Quotes further than this many ATM standard deviations from the forward
    /// (`|k| / (σ_atm √t)`) are dropped.
    pub max_std_moneyness: f64,
    /// Only out-of-the-money options (puts below the forward, calls above): the liquid side.
    pub otm_only: bool,
    /// Minimum open interest (contracts).
    pub min_open_interest: f64,
    /// Maximum bid–ask spread in vol (two-sided quotes only).
    pub max_spread_iv: f64,
    /// Expiries with fewer usable quotes are not fitted.
    pub min_quotes: usize,
    /// Expiries closer than this (years) are not fitted.
    pub min_t: f64,
}

impl Default for QuoteFilter {
    fn default() -> Self {
        QuoteFilter {
            max_std_moneyness: 6.0,
            otm_only: true,
            min_open_interest: 0.0,
            max_spread_iv: 0.5,
            min_quotes: 5,
            min_t: 1.0 / 365.0,
        }
    }
}

/// Everything that defines a fit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FitSpec {
    /// Model family.
    pub model: ModelKind,
    /// Residual kind.
    pub residual: ResidualKind,
    /// Weights (a product of factors).
    pub weight: WeightKind,
    /// Largest weight as a multiple of the median weight.
    pub weight_cap: f64,
    /// Robust loss (CLI syntax, e.g. `huber:0.01`).
    #[serde(with = "loss_text")]
    pub loss: LossKind,
    /// Ridge penalty, if any.
    pub ridge: Option<Ridge>,
    /// Weight of the static-arbitrage penalty (0 = report only).
    pub arbitrage_penalty: f64,
    /// Per-expiry SVI: enforce calendar no-arbitrage between slices (refitted front to back
    /// above the previous slice, penalty weight `arbitrage_penalty`, 1 when that is 0).
    pub calendar: bool,
    /// Solver.
    pub solver: SolverKind,
    /// Iteration limit of the solver.
    pub max_iters: u32,
    /// Number of starts (1 = the model's own initial guess only).
    pub starts: usize,
    /// Seed of every random choice (global solvers, multi-start).
    pub seed: u64,
    /// SABR β when fixed (`None` = fitted).
    pub sabr_beta: Option<f64>,
    /// Quote filters.
    pub filter: QuoteFilter,
    /// Calibrate through a surrogate net (`--surrogate`): Heston and Bates first, then the
    /// exact polish; rough Bergomi through the net alone (it has no pricer of its own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surrogate: Option<super::surrogate::SurrogateSpec>,
}

impl Default for FitSpec {
    fn default() -> Self {
        FitSpec {
            model: ModelKind::default(),
            residual: ResidualKind::Vol,
            weight: WeightKind::default(),
            weight_cap: 20.0,
            loss: LossKind::Mse,
            ridge: None,
            arbitrage_penalty: 0.0,
            calendar: false,
            solver: SolverKind::Lm,
            max_iters: 200,
            starts: 1,
            seed: 42,
            sabr_beta: Some(1.0),
            filter: QuoteFilter::default(),
            surrogate: None,
        }
    }
}

mod loss_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use volfit_optim::loss::LossKind;

    pub fn serialize<S: Serializer>(l: &LossKind, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(l)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<LossKind, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl FitSpec {
    /// Parses a TOML fit specification (unknown keys are errors) and checks every value
    /// ([`FitSpec::check`]).
    ///
    /// # Errors
    /// The TOML error, with the offending key and line; or the value that breaks a rule.
    pub fn from_toml(text: &str) -> Result<FitSpec, toml::de::Error> {
        let spec: FitSpec = toml::from_str(text)?;
        spec.check()
            .map_err(|e| <toml::de::Error as serde::de::Error>::custom(format!("key {e}")))?;
        Ok(spec)
    }

    /// Checks every value against [`RULES`], the one rule set behind both the TOML keys and
    /// the CLI flags.
    ///
    /// # Errors
    /// The first value that breaks its rule.
    pub fn check(&self) -> Result<(), SpecError> {
        for r in RULES {
            if let Some(v) = (r.get)(self) {
                if !(r.ok)(v) {
                    return Err(SpecError { key: r.key, flag: r.flag, value: v, rule: r.rule });
                }
            }
        }
        Ok(())
    }
}

/// Most starts of a multi-start fit (each is a full solve).
pub const MAX_STARTS: usize = 1000;
/// Most solver iterations.
pub const MAX_ITERS: u32 = 1_000_000;

/// A value of a [`FitSpec`] that breaks its rule.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{key} = {value}: {rule}")]
pub struct SpecError {
    /// TOML key (dotted for tables, e.g. `filter.min_t`).
    pub key: &'static str,
    /// The CLI flag that sets it, if any.
    pub flag: Option<&'static str>,
    /// The offending value.
    pub value: f64,
    /// The rule, in words.
    pub rule: &'static str,
}

/// One checked value of a [`FitSpec`]: its TOML key, CLI flag, the value (`None` = unset),
/// and its rule as code and in words.
#[derive(Clone, Copy)]
pub struct Rule {
    /// TOML key.
    pub key: &'static str,
    /// CLI flag, if any.
    pub flag: Option<&'static str>,
    /// The value, when set.
    pub get: fn(&FitSpec) -> Option<f64>,
    /// The rule.
    pub ok: fn(f64) -> bool,
    /// The rule, in words.
    pub rule: &'static str,
}

/// Every rule of a fit spec, for config files and flags alike.
pub const RULES: &[Rule] = &[
    Rule {
        key: "weight_cap",
        flag: None,
        get: |s| Some(s.weight_cap),
        ok: |v| v >= 1.0 && v.is_finite(),
        rule: "must be a finite number ≥ 1",
    },
    Rule {
        key: "ridge",
        flag: Some("--ridge"),
        get: |s| s.ridge.map(|r| r.lambda),
        ok: |v| v >= 0.0 && v.is_finite(),
        rule: "λ must be a finite number ≥ 0",
    },
    Rule {
        key: "arbitrage_penalty",
        flag: Some("--arbitrage-penalty"),
        get: |s| Some(s.arbitrage_penalty),
        ok: |v| v >= 0.0 && v.is_finite(),
        rule: "must be a finite number ≥ 0",
    },
    Rule {
        key: "max_iters",
        flag: Some("--max-iters"),
        get: |s| Some(f64::from(s.max_iters)),
        ok: |v| (1.0..=f64::from(MAX_ITERS)).contains(&v),
        rule: "must be from 1 to 1000000",
    },
    Rule {
        key: "starts",
        flag: Some("--starts"),
        get: |s| Some(s.starts as f64),
        ok: |v| (1.0..=MAX_STARTS as f64).contains(&v),
        rule: "must be from 1 to 1000",
    },
    Rule {
        key: "sabr_beta",
        flag: Some("--sabr-beta"),
        get: |s| s.sabr_beta,
        ok: |v| (0.0..=1.0).contains(&v),
        rule: "must be in [0, 1] (or `free` on the command line, absent in the file)",
    },
    Rule {
        key: "filter.max_std_moneyness",
        flag: None,
        get: |s| Some(s.filter.max_std_moneyness),
        ok: |v| v > 0.0,
        rule: "must be > 0 (ATM standard deviations; inf keeps every strike)",
    },
    Rule {
        key: "filter.min_open_interest",
        flag: None,
        get: |s| Some(s.filter.min_open_interest),
        ok: |v| v >= 0.0 && v.is_finite(),
        rule: "must be a finite number ≥ 0",
    },
    Rule {
        key: "filter.max_spread_iv",
        flag: None,
        get: |s| Some(s.filter.max_spread_iv),
        ok: |v| v > 0.0,
        rule: "must be > 0 (vol, e.g. 0.5 = 50 points; inf keeps every spread)",
    },
    Rule {
        key: "filter.min_quotes",
        flag: None,
        get: |s| Some(s.filter.min_quotes as f64),
        ok: |v| v >= 1.0,
        rule: "must be ≥ 1",
    },
    Rule {
        key: "filter.min_t",
        flag: None,
        get: |s| Some(s.filter.min_t),
        ok: |v| v >= 0.0 && v.is_finite(),
        rule: "must be a finite number of years ≥ 0",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_names_round_trip() {
        for m in ModelKind::ALL {
            assert_eq!(m.to_string().parse::<ModelKind>().unwrap(), m);
        }
        for s in SolverKind::ALL {
            assert_eq!(s.to_string().parse::<SolverKind>().unwrap(), s);
        }
        assert!("bfgs".parse::<SolverKind>().unwrap_err().to_string().contains("nelder-mead"));
    }

    #[test]
    fn ridge_syntax() {
        assert_eq!(
            "0.01".parse::<Ridge>().unwrap(),
            Ridge { lambda: 0.01, toward: RidgeTarget::Prev }
        );
        assert_eq!("1e-3:zero".parse::<Ridge>().unwrap().toward, RidgeTarget::Zero);
        for bad in ["-1", "x", "0.1:yesterday", "nan"] {
            assert!(bad.parse::<Ridge>().is_err(), "{bad}");
        }
    }

    #[test]
    fn toml_spec_parses_and_rejects_unknown_keys() {
        let spec = FitSpec::from_toml(
            r#"
            model = "svi"
            residual = "band"
            weight = "vega*spread"
            loss = "huber:0.01"
            ridge = "0.001:prev"
            solver = "lbfgsb"
            [filter]
            min_quotes = 8
            "#,
        )
        .unwrap();
        assert_eq!(spec.model, ModelKind::Svi);
        assert_eq!(spec.residual, ResidualKind::Band);
        assert_eq!(spec.weight.to_string(), "vega*spread");
        assert_eq!(spec.loss.to_string(), "huber:0.01");
        assert_eq!(spec.filter.min_quotes, 8);
        let err = FitSpec::from_toml("modle = \"svi\"").unwrap_err().to_string();
        assert!(err.contains("modle"), "{err}");
        // The spec echoes into outputs and reads back identically.
        let text = toml::to_string(&spec).unwrap();
        assert_eq!(FitSpec::from_toml(&text).unwrap(), spec);
    }

    #[test]
    fn every_rule_rejects_a_bad_toml_value_naming_key_and_rule() {
        for (text, key) in [
            ("[filter]\nmax_std_moneyness = -3", "filter.max_std_moneyness"),
            ("[filter]\nmax_std_moneyness = nan", "filter.max_std_moneyness"),
            ("[filter]\nmin_open_interest = -1", "filter.min_open_interest"),
            ("[filter]\nmax_spread_iv = 0", "filter.max_spread_iv"),
            ("[filter]\nmin_quotes = 0", "filter.min_quotes"),
            ("[filter]\nmin_t = nan", "filter.min_t"),
            ("weight_cap = 0.5", "weight_cap"),
            ("arbitrage_penalty = -1", "arbitrage_penalty"),
            ("max_iters = 0", "max_iters"),
            ("starts = 100000", "starts"),
            ("starts = 0", "starts"),
            ("sabr_beta = 1.5", "sabr_beta"),
        ] {
            let err = FitSpec::from_toml(text).expect_err(text).to_string();
            assert!(err.contains(&format!("key {key} = ")) && err.contains("must"), "{err}");
        }
        FitSpec::from_toml("[filter]\nmax_std_moneyness = inf\nmax_spread_iv = inf").unwrap();
        FitSpec::default().check().unwrap();
    }

    #[test]
    fn rules_name_the_flag_that_sets_a_value() {
        let spec = FitSpec { starts: 100_000, ..FitSpec::default() };
        let e = spec.check().unwrap_err();
        assert_eq!((e.key, e.flag), ("starts", Some("--starts")));
        assert_eq!(e.to_string(), "starts = 100000: must be from 1 to 1000");
    }
}
