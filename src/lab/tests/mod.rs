//! Tests of the lab: pure checks of the plan and parsers (`unit`), signal handling (`signals`),
//! and root-only tests that build real labs (`root`, `nat`, `knat`, `teardown`, `reap`): they skip
//! with a message when not root, and fail when `CI` is set and they cannot run.

mod knat;
mod nat;
mod reap;
mod root;
mod signals;
mod support;
mod teardown;
mod unit;
