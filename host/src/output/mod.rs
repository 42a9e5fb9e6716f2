//! Stage last: how cortado talks to people and machines. Data goes to stdout, logs to stderr;
//! colour as `crate::style` decides (NO_COLOR, CLICOLOR_FORCE, TERM=dumb, a terminal).

pub mod jsonnet_fmt;
pub mod live;
pub mod plan;
pub mod progress;
pub mod prompt;
pub mod status;
pub mod table;

pub use crate::style::Style;

/// ecspresso's `--[no-]color`, through the variables every colour decision reads (NO_COLOR,
/// CLICOLOR_FORCE), so child processes such as `diff --external` follow it too.
pub fn choose_color(color: bool, no_color: bool) {
    // SAFETY: called from `main` before the logger and the async runtime start, while the process
    // is single-threaded.
    unsafe {
        if no_color {
            std::env::set_var("NO_COLOR", "1");
        } else if color {
            std::env::remove_var("NO_COLOR");
            std::env::set_var("CLICOLOR_FORCE", "1");
        }
    }
}

/// Sets up the log subscriber: level-tagged lines on stderr for cortado's own events (`--debug`
/// shows debug lines), warnings only from the libraries beneath it.
pub fn init_logging(debug: bool) {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let level = if debug { tracing::Level::DEBUG } else { tracing::Level::INFO };
    let filter = Targets::new().with_target("cortado", level).with_default(tracing::Level::WARN);
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false).with_ansi(Style::stderr().color).without_time();
    let _ = tracing_subscriber::registry().with(layer).with(filter).try_init();
}
