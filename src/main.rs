//! The `tapvs` binary: a thin command-line front over the library.
fn main() {}
