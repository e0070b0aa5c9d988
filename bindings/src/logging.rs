//! Where the engine's `log` records go: to the app's [`Logger`], or to the platform's log
//! (logcat with tag "GemKit" on Android, stderr elsewhere). Panics are logged too, from a hook,
//! since an app's stderr is usually nowhere.

use std::sync::{Arc, Once, RwLock};

use crate::error::CallbackError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LogRecord {
    pub level: LogLevel,
    /// The Rust module that logged, e.g. `gemkit::model`.
    pub target: String,
    pub message: String,
}

/// An app's log sink. It is called on whichever thread logs, so it must be thread-safe and
/// quick. If it throws, the record is dropped.
#[uniffi::export(with_foreign)]
pub trait Logger: Send + Sync {
    /// Declared fallible so that an exception in the app's logger comes back as an `Err`:
    /// in an infallible callback, UniFFI would panic, and abort inside the panic hook.
    fn log(&self, record: LogRecord) -> Result<(), CallbackError>;
}

/// Sends records at `level` and above to `logger`, or without one to logcat (Android) or
/// stderr. Call it again to change either; before the first call nothing is logged.
#[uniffi::export]
pub fn init_logging(level: LogLevel, logger: Option<Arc<dyn Logger>>) {
    let sink: Arc<dyn log::Log> = match logger {
        Some(l) => Arc::new(Foreign(l)),
        None => platform_sink(level),
    };
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = Some(sink);
    log::set_max_level(level.into());
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Fails only if another logger was set first (by the app's own Rust code): keep it.
        let _ = log::set_logger(&DISPATCH);
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            log::error!("{info}");
            previous(info);
        }));
    });
}

static SINK: RwLock<Option<Arc<dyn log::Log>>> = RwLock::new(None);
static DISPATCH: Dispatch = Dispatch;

/// The `log` crate takes one logger for the life of the process; this one forwards to the
/// sink of the latest `init_logging`, outside the lock, so a sink may log or re-initialize.
struct Dispatch;

impl Dispatch {
    fn sink() -> Option<Arc<dyn log::Log>> {
        SINK.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl log::Log for Dispatch {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        Self::sink().is_some_and(|s| s.enabled(metadata))
    }

    fn log(&self, record: &log::Record) {
        if let Some(s) = Self::sink() {
            s.log(record);
        }
    }

    fn flush(&self) {
        if let Some(s) = Self::sink() {
            s.flush();
        }
    }
}

struct Foreign(Arc<dyn Logger>);

impl log::Log for Foreign {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        let record = LogRecord {
            level: record.level().into(),
            target: record.target().to_owned(),
            message: record.args().to_string(),
        };
        let _ = self.0.log(record);
    }

    fn flush(&self) {}
}

#[cfg(target_os = "android")]
fn platform_sink(level: LogLevel) -> Arc<dyn log::Log> {
    let config = android_logger::Config::default()
        .with_tag("GemKit")
        .with_max_level(level.into());
    Arc::new(android_logger::AndroidLogger::new(config))
}

#[cfg(not(target_os = "android"))]
fn platform_sink(_: LogLevel) -> Arc<dyn log::Log> {
    Arc::new(Stderr)
}

#[cfg(not(target_os = "android"))]
struct Stderr;

#[cfg(not(target_os = "android"))]
impl log::Log for Stderr {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        eprintln!(
            "GemKit {} {}: {}",
            record.level(),
            record.target(),
            record.args()
        );
    }

    fn flush(&self) {}
}

impl From<LogLevel> for log::LevelFilter {
    fn from(l: LogLevel) -> Self {
        match l {
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Trace => log::LevelFilter::Trace,
        }
    }
}

impl From<log::Level> for LogLevel {
    fn from(l: log::Level) -> Self {
        match l {
            log::Level::Error => LogLevel::Error,
            log::Level::Warn => LogLevel::Warn,
            log::Level::Info => LogLevel::Info,
            log::Level::Debug => LogLevel::Debug,
            log::Level::Trace => LogLevel::Trace,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Keep(Mutex<Vec<String>>);

    impl Logger for Keep {
        fn log(&self, record: LogRecord) -> Result<(), CallbackError> {
            // Other tests of this binary may log (a panic, say): keep only this module's.
            if record.target == module_path!() {
                let line = format!("{:?} {}", record.level, record.message);
                self.0.lock().unwrap().push(line);
            }
            Ok(())
        }
    }

    struct Fail;

    impl Logger for Fail {
        fn log(&self, _: LogRecord) -> Result<(), CallbackError> {
            Err(CallbackError::Failed {
                reason: "logger failed".into(),
            })
        }
    }

    #[test]
    fn records_go_to_the_latest_logger_at_its_level() {
        let first = Arc::new(Keep::default());
        init_logging(LogLevel::Info, Some(first.clone()));
        log::info!("one");
        log::debug!("below the level");
        let second = Arc::new(Keep::default());
        init_logging(LogLevel::Debug, Some(second.clone()));
        log::debug!("two");
        init_logging(LogLevel::Info, Some(Arc::new(Fail)));
        log::info!("dropped");
        assert_eq!(*first.0.lock().unwrap(), ["Info one"]);
        assert_eq!(*second.0.lock().unwrap(), ["Debug two"]);
    }
}
