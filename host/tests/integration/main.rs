//! The host's integration tests, one binary: each test file linked into a binary of its own cost a
//! compile and a link of the whole library (~3 s of CPU each in a cold build) for a few tests.

mod bundled;
mod go_template_diff;
mod sandbox;
