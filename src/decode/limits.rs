//! Implementation limits of the decoder.
//!
//! Each is at least as generous as the limits of the JavaScript embedding
//! (the WebAssembly JS API, "Implementation-defined limits"), and each is
//! enforced with a `Limit` error before anything is allocated for it, so a
//! hostile module cannot make the decoder run out of memory.

/// Size of a whole module in bytes (JS: 1 GiB).
pub const MAX_MODULE_SIZE: usize = 1 << 30;
/// Entries of the type section (JS: 1,000,000).
pub const MAX_TYPES: u32 = 1_000_000;
/// Functions, imported and defined (JS: 1,000,000).
pub const MAX_FUNCTIONS: u32 = 1_000_000;
/// Imports (JS: 100,000).
pub const MAX_IMPORTS: u32 = 100_000;
/// Exports (JS: 100,000).
pub const MAX_EXPORTS: u32 = 100_000;
/// Globals, imported and defined (JS: 1,000,000).
pub const MAX_GLOBALS: u32 = 1_000_000;
/// Data segments (JS: 100,000).
pub const MAX_DATA_SEGMENTS: u32 = 100_000;
/// Element segments (JS: 10,000,000).
pub const MAX_ELEMENT_SEGMENTS: u32 = 10_000_000;
/// Tables, imported and defined (JS: 100,000).
pub const MAX_TABLES: u32 = 100_000;
/// Memories, imported and defined, before validation rejects more than one.
pub const MAX_MEMORIES: u32 = 100;
/// Parameters of one function type (JS: 1,000).
pub const MAX_PARAMS: u32 = 1_000;
/// Results of one function type (JS: 1,000).
pub const MAX_RESULTS: u32 = 1_000;
/// Size of one function body in bytes (JS: 7,654,321).
pub const MAX_FUNCTION_BODY_SIZE: u32 = 7_654_321;
/// Locals of one function, parameters included (JS: 50,000).
pub const MAX_LOCALS: u32 = 50_000;
/// Nesting depth of blocks, loops and ifs in one function. JS sets none;
/// 10,000 is far beyond what compilers emit and keeps the control stack small.
pub const MAX_NESTING_DEPTH: u32 = 10_000;
/// Tags, imported and defined (JS: 1,000,000).
pub const MAX_TAGS: u32 = 1_000_000;
/// Catch clauses of one `try_table`; none is needed beyond one per tag and
/// a `catch_all`, and the bound keeps the per-`try_table` tables small.
pub const MAX_CATCHES: u32 = 100_000;
