//! process-compose.yaml (placeholder until the translation lands).

use std::path::Path;

use super::{ConfigError, model::Stack};

/// Reads `text`, the contents of `file`.
pub fn parse(_text: &str, file: &Path) -> Result<Stack, ConfigError> {
    Err(ConfigError::new(
        file,
        None,
        "process-compose.yaml is not read yet",
    ))
}
