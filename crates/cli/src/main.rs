//! `volfit`: command-line front end.

fn main() {}
