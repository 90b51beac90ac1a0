//! The bundled DejaVu Sans, registered once with plotters as `sans-serif` (no system fonts).

use plotters::style::{FontStyle, register_font};
use std::sync::OnceLock;

/// The family name every plot uses.
pub(super) const FAMILY: &str = "sans-serif";

static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Registers the bundled font on first use; later calls return the first outcome.
pub(super) fn ensure() -> Result<(), &'static str> {
    static REGISTERED: OnceLock<Result<(), &'static str>> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS)
            .map_err(|_| "the bundled DejaVuSans.ttf is not a valid font")
    })
}
