//! The type checker (placeholder while the validator lands).
use crate::decode::Module;
use crate::error::Result;

/// Validates a decoded module.
pub fn validate_module(_module: &Module) -> Result<()> {
    Ok(())
}
