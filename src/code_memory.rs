//! Executable memory (placeholder while the code memory lands).
