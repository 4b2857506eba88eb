//! sqlyard needs one typed, checked configuration that an operator can get
//! right on the first try: every key but the credentials and the server list
//! has a default, unknown keys are refused, durations carry units, and every
//! error names the file, line and column. The layout:
//! - `model.rs`: the sections and their defaults;
//! - `duration.rs`: duration strings and their bounds;
//! - `password.rs`: masked secrets and `mysql_native_password` hashes;
//! - `validate.rs`: checks after parsing, clamping of durations;
//! - `load.rs`: reading, parsing and locating errors;
//! - `error.rs`: the layer's error type.
//!
//! The README's configuration reference lists every key.

mod duration;
mod error;
mod load;
mod model;
mod password;
mod settings;
mod size;
mod validate;

#[cfg(test)]
mod tests;

pub mod writeback;
pub use duration::{Bounds, DurationError, DurationSetting};
pub use error::{AddressError, ConfigError, Issue, KeyPath, Location, Problem, Segment};
pub use model::{
    parse_time_of_day, BackendTlsConfig, BackendTlsMode, BackupConfig, ClusterConfig, Config,
    ConsistencyConfig, FailoverConfig, FenceStep, MonitorConfig, PoolConfig, PrimaryReads,
    Promotion, RouterConfig, RoutingConfig, RywScope, ServerConfig, TlsConfig, TlsVersion,
    UserConfig,
};
pub use password::{Password, Secret};
pub use settings::{monitor_settings, worker_threads};
pub use size::ByteSize;

/// The example configuration shipped as `examples/sqlyard.toml`: a complete
/// production config for one primary and two replicas.
pub fn example_toml() -> &'static str {
    include_str!("../../examples/sqlyard.toml")
}
