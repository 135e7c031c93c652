//! Logging in ucarp's format, so operators' greps and alerts keep working:
//! `[WARNING] Switching to state: MASTER` to syslog (ident `xcarp`, with pid,
//! facility from `--facility`), and the same line with a local timestamp
//! (`2026-01-02T03:04:05.123456: `) to stderr unless daemonized.
use std::{fmt, sync::Mutex};

use syslog::{Formatter3164, Logger, LoggerBackend};
use tracing::{Event, Level, Subscriber, field::Field};
use tracing_subscriber::{
    Layer,
    fmt::{FmtContext, FormatEvent, FormatFields, format::Writer},
    layer::{Context, SubscriberExt as _},
    registry::LookupSpan,
    util::SubscriberInitExt as _,
};

use crate::cli::Facility;

/// ucarp's level tags.
fn level_tag(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

/// Sets up the global logger. `to_stderr` is false once daemonized.
pub fn init(debug: bool, facility: Facility, to_stderr: bool) {
    let max_level = if debug { Level::DEBUG } else { Level::INFO };
    // Libraries log only errors: netlink-packet-route, for one, warns about
    // every attribute a newer kernel adds, which says nothing to an operator.
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("xcarp", max_level)
        // It logs each kernel message it cannot decode as a byte dump at
        // ERROR; xcarp copes without them (see daemon::net::watch_link).
        .with_target(
            "netlink_proto",
            tracing_subscriber::filter::LevelFilter::OFF,
        )
        .with_default(Level::ERROR);
    let stderr_layer = to_stderr.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .event_format(UcarpFormat)
    });
    let syslog_layer = match facility {
        Facility::None => None,
        Facility::Syslog(facility) => SyslogLayer::connect(facility),
    };
    // A second init (tests) is harmless: the first logger stays.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr_layer)
        .with(syslog_layer)
        .try_init();
}

/// `<local time>: [LEVEL] message`.
struct UcarpFormat;

impl<S, N> FormatEvent<S, N> for UcarpFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let now = chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.6f");
        write!(writer, "{now}: [{}] ", level_tag(*event.metadata().level()))?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Sends every event to the local syslog daemon.
struct SyslogLayer {
    logger: Mutex<Logger<LoggerBackend, Formatter3164>>,
}

impl SyslogLayer {
    fn connect(facility: syslog::Facility) -> Option<Self> {
        let formatter = Formatter3164 {
            facility,
            hostname: None,
            process: "xcarp".into(),
            pid: std::process::id(),
        };
        match syslog::unix(formatter) {
            Ok(logger) => Some(Self {
                logger: Mutex::new(logger),
            }),
            Err(e) => {
                // No syslog daemon (containers, test namespaces): stderr only.
                eprintln!("xcarp: syslog unavailable ({e}); logging to stderr only");
                None
            }
        }
    }
}

impl<S: Subscriber> Layer<S> for SyslogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut line = MessageText(String::new());
        event.record(&mut line);
        let level = *event.metadata().level();
        let text = format!("[{}] {}", level_tag(level), line.0);
        let Ok(mut logger) = self.logger.lock() else {
            return;
        };
        // A lost syslog line must never stop the daemon.
        let _ = match level {
            Level::ERROR => logger.err(text),
            Level::WARN => logger.warning(text),
            Level::INFO => logger.info(text),
            Level::DEBUG | Level::TRACE => logger.debug(text),
        };
    }
}

/// Collects an event's message and fields as `message k=v …`.
struct MessageText(String);

impl tracing::field::Visit for MessageText {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        use fmt::Write as _;
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}
