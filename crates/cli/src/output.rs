//! Output on stdout shared by the commands (the `outln!` and `out!` macros are in the crate
//! root, so that every module can use them).

/// Prints a JSON value as one line on stdout.
pub fn print_json(value: &serde_json::Value) {
    outln!("{value}");
}
