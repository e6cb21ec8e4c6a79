//! The x86-64 assembler (placeholder while the assembler lands).
