//! Problem: `ADD SERVER` and `REMOVE SERVER` change the topology list, and
//! the config file must stay the single source of truth: the change is
//! written back to the file, atomically (a reader never sees half a file)
//! and keeping the operator's comments and layout, before it is applied.

use std::path::Path;

use crate::control::ControlError;

/// Appends a `[[servers]]` entry for `address` to the config file.
pub fn add_server(path: &Path, address: &str) -> Result<(), ControlError> {
    Err(ControlError::Edit {
        path: path.to_path_buf(),
        reason: format!("adding {address} is not written yet"),
    })
}

/// Removes the `[[servers]]` entry for `address` from the config file.
pub fn remove_server(path: &Path, address: &str) -> Result<(), ControlError> {
    Err(ControlError::Edit {
        path: path.to_path_buf(),
        reason: format!("removing {address} is not written yet"),
    })
}
