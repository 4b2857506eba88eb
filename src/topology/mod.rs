//! Routing needs to know, at every query, which server is the primary and which are
//! healthy replicas. This module watches the MariaDB/MySQL servers (`monitor`, `probe`),
//! decides roles (`primary`) and publishes one immutable `Snapshot` at a time through a
//! `TopologyHandle` that the data path reads without locks.
//!
//! Files: `snapshot` (the view), `handle` (publish/load/wait), `monitor` (polling rounds),
//! `probe` (one poll of one server), `primary` (election rule), `lag` (heartbeat lag),
//! `detector` (sqlyard's own view of a failing primary), `gtid` (GTID sets of both
//! flavors), `replica_status` (replication channel rows), `flavor` (MariaDB vs MySQL
//! differences), `row` (rows by column name), `settings`, `error`.

pub mod control_tls;
pub mod detector;
pub mod error;
pub mod flavor;
pub mod gtid;
pub mod handle;
pub mod lag;
pub mod monitor;
pub mod primary;
pub mod probe;
pub mod replica_status;
pub mod row;
pub mod settings;
pub mod snapshot;

pub use control_tls::{ControlTls, TlsMode};
pub use error::{NoPrimary, NoPrimaryDetail, ProbeError, UnreachableServer};
pub use flavor::{Flavor, GtidPositions};
pub use gtid::{GtidError, GtidSet, MariaGtid, MariaGtidList, MysqlGtidSet};
pub use handle::TopologyHandle;
pub use monitor::{spawn, Monitor, MonitorControl};
pub use primary::{elect, PrimaryConflict};
pub use probe::{probe_once, Prober, ServerFacts};
pub use replica_status::{GtidMode, ReplicationStatus, ThreadState};
pub use settings::MonitorSettings;
pub use snapshot::{AdminState, Role, ServerState, Snapshot};
