//! Problem: the protocol is full of magic numbers; name the ones sqlyard uses.

/// Capability flags (subset, as in the MySQL protocol documentation).
pub mod cap {
    pub const LONG_PASSWORD: u32 = 1;
    pub const FOUND_ROWS: u32 = 1 << 1;
    pub const LONG_FLAG: u32 = 1 << 2;
    pub const CONNECT_WITH_DB: u32 = 1 << 3;
    pub const NO_SCHEMA: u32 = 1 << 4;
    pub const COMPRESS: u32 = 1 << 5;
    pub const ODBC: u32 = 1 << 6;
    pub const LOCAL_FILES: u32 = 1 << 7;
    pub const IGNORE_SPACE: u32 = 1 << 8;
    pub const PROTOCOL_41: u32 = 1 << 9;
    pub const INTERACTIVE: u32 = 1 << 10;
    pub const SSL: u32 = 1 << 11;
    pub const IGNORE_SIGPIPE: u32 = 1 << 12;
    pub const TRANSACTIONS: u32 = 1 << 13;
    pub const RESERVED: u32 = 1 << 14;
    pub const SECURE_CONNECTION: u32 = 1 << 15;
    pub const MULTI_STATEMENTS: u32 = 1 << 16;
    pub const MULTI_RESULTS: u32 = 1 << 17;
    pub const PS_MULTI_RESULTS: u32 = 1 << 18;
    pub const PLUGIN_AUTH: u32 = 1 << 19;
    pub const CONNECT_ATTRS: u32 = 1 << 20;
    pub const PLUGIN_AUTH_LENENC_DATA: u32 = 1 << 21;
    pub const CAN_HANDLE_EXPIRED_PASSWORDS: u32 = 1 << 22;
    pub const SESSION_TRACK: u32 = 1 << 23;
    pub const DEPRECATE_EOF: u32 = 1 << 24;
}

/// MariaDB's extended capabilities: the upper 32 bits, carried in the
/// handshakes' reserved bytes when the server does not set `CLIENT_MYSQL`
/// (the `LONG_PASSWORD` bit).
pub mod ext_cap {
    /// Progress reports for long statements (ERR packets with code 0xFFFF).
    pub const PROGRESS: u32 = 1;
    /// COM_STMT_BULK_EXECUTE.
    pub const STMT_BULK_OPERATIONS: u32 = 1 << 2;
    /// The extended capabilities sqlyard passes between clients and
    /// servers (the others change the protocol in ways it does not follow).
    pub const SUPPORTED: u32 = PROGRESS | STMT_BULK_OPERATIONS;
}

/// Server status flags carried by OK and EOF packets.
pub mod status {
    pub const IN_TRANS: u16 = 1;
    pub const AUTOCOMMIT: u16 = 2;
    pub const MORE_RESULTS_EXISTS: u16 = 8;
    pub const NO_GOOD_INDEX_USED: u16 = 16;
    pub const NO_INDEX_USED: u16 = 32;
    pub const CURSOR_EXISTS: u16 = 64;
    pub const LAST_ROW_SENT: u16 = 128;
    pub const DB_DROPPED: u16 = 256;
    pub const NO_BACKSLASH_ESCAPES: u16 = 512;
    pub const METADATA_CHANGED: u16 = 1024;
    pub const QUERY_WAS_SLOW: u16 = 2048;
    pub const PS_OUT_PARAMS: u16 = 4096;
    pub const IN_TRANS_READONLY: u16 = 8192;
    pub const SESSION_STATE_CHANGED: u16 = 16384;
}

/// Command bytes (first byte of a request).
pub mod com {
    pub const SLEEP: u8 = 0x00;
    pub const QUIT: u8 = 0x01;
    pub const INIT_DB: u8 = 0x02;
    pub const QUERY: u8 = 0x03;
    pub const FIELD_LIST: u8 = 0x04;
    pub const CREATE_DB: u8 = 0x05;
    pub const DROP_DB: u8 = 0x06;
    pub const REFRESH: u8 = 0x07;
    pub const STATISTICS: u8 = 0x09;
    pub const PROCESS_INFO: u8 = 0x0a;
    pub const PROCESS_KILL: u8 = 0x0c;
    pub const DEBUG: u8 = 0x0d;
    pub const PING: u8 = 0x0e;
    pub const CHANGE_USER: u8 = 0x11;
    pub const STMT_PREPARE: u8 = 0x16;
    pub const STMT_EXECUTE: u8 = 0x17;
    pub const STMT_SEND_LONG_DATA: u8 = 0x18;
    pub const STMT_CLOSE: u8 = 0x19;
    pub const STMT_RESET: u8 = 0x1a;
    pub const SET_OPTION: u8 = 0x1b;
    pub const STMT_FETCH: u8 = 0x1c;
    pub const RESET_CONNECTION: u8 = 0x1f;
    /// MariaDB: one prepared statement executed for an array of rows.
    pub const STMT_BULK_EXECUTE: u8 = 0xfa;
}

/// Session-state-change types inside an OK packet.
pub mod track {
    pub const SYSTEM_VARIABLES: u8 = 0;
    pub const SCHEMA: u8 = 1;
    pub const STATE_CHANGE: u8 = 2;
    pub const GTIDS: u8 = 3;
    pub const TRANSACTION_CHARACTERISTICS: u8 = 4;
    pub const TRANSACTION_STATE: u8 = 5;
}

/// Error codes sqlyard itself sends.
pub mod errcode {
    pub const ACCESS_DENIED: u16 = 1045;
    pub const UNKNOWN_COM: u16 = 1047;
    pub const HANDSHAKE: u16 = 1043;
    pub const NET_PACKETS_OUT_OF_ORDER: u16 = 1156;
    pub const NET_READ_ERROR: u16 = 1158;
    pub const CON_COUNT: u16 = 1040;
    pub const NO_SUCH_THREAD: u16 = 1094;
    pub const NOT_OWNER: u16 = 1095;
    pub const QUERY_INTERRUPTED: u16 = 1317;
    pub const CONNECTION_KILLED: u16 = 1927;
    pub const UNKNOWN_ERROR: u16 = 1105;
    pub const TOO_MANY_USER_CONNECTIONS: u16 = 1203;
    pub const LOCK_WAIT_TIMEOUT: u16 = 1205;
    pub const NEW_ABORTING_CONNECTION: u16 = 1184;
    pub const SERVER_SHUTDOWN: u16 = 1053;
    pub const NET_PACKET_TOO_LARGE: u16 = 1153;
}

/// The collation announced in our handshake (utf8mb4_general_ci).
pub const DEFAULT_COLLATION: u8 = 45;
