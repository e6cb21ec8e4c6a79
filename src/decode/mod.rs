//! The WebAssembly binary format (placeholder while the decoder lands).
use crate::error::{Error, Result};

/// A decoded module.
#[derive(Debug, Default)]
pub struct Module {}

impl Module {
    /// Decodes a module.
    pub fn decode(bytes: &[u8]) -> Result<Module> {
        if bytes.get(..4) != Some(b"\0asm") {
            return Err(Error::malformed(0, "magic header not detected"));
        }
        if bytes.get(4..8) != Some(&[1, 0, 0, 0]) {
            return Err(Error::malformed(4, "unknown binary version"));
        }
        Ok(Module {})
    }
}
