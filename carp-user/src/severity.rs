//! Log severities, shared vocabulary of the layers: the wire codec says how
//! loud ucarp is about a rejected frame, the engine about its transitions,
//! and the daemon maps both to its logger.

/// ucarp's syslog levels, in increasing severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
}
