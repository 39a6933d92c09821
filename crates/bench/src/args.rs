//! Flags of the bench binaries (dev tools: `--name value` pairs, no help text, so no CLI
//! crate).

/// The value after `name` in `args`, if the flag is there.
pub fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

/// The value after `name` parsed, or `default` when the flag is absent.
///
/// # Errors
/// The flag and its value when the value does not parse.
pub fn num<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T, String> {
    arg(args, name).map_or(Ok(default), |s| s.parse().map_err(|_| format!("{name}: {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_read_parsed_and_defaulted() {
        let args: Vec<String> = ["bin", "--steps", "64", "--bad", "x"].map(String::from).into();
        assert_eq!(arg(&args, "--steps").as_deref(), Some("64"));
        assert_eq!(num(&args, "--steps", 1usize), Ok(64));
        assert_eq!(num(&args, "--paths", 7usize), Ok(7));
        assert_eq!(num::<f64>(&args, "--bad", 0.0), Err("--bad: \"x\"".to_string()));
        assert_eq!(arg(&args, "x"), None);
    }
}
