//! Matching wasmkern's error messages against the testsuite's expected text.
//!
//! Like Wasmtime's runner, a message matches when ours *contains* the
//! expected text. The testsuite's wording is not always the binary
//! decoder's: the 1.0 and 2.0 suites differ in places, and some
//! `assert_malformed` texts were written for the text format. [`ALIASES`]
//! lists those few documented equivalences.

/// `(expected, also accepted)`: when the testsuite expects the first text,
/// a message containing the second one is accepted as well.
pub const ALIASES: &[(&str, &str)] = &[
    // A truncated section or body: the suites use both wordings, and which
    // one fits depends on whether a length or the data runs out first.
    ("unexpected end", "length out of bounds"),
    ("length out of bounds", "unexpected end"),
    ("unexpected end of section or function", "unexpected end"),
    (
        "unexpected end of section or function",
        "length out of bounds",
    ),
    ("section size mismatch", "unexpected end"),
    // 1.0 wording versus 2.0 wording.
    ("zero flag expected", "zero byte expected"),
    (
        "junk after last section",
        "unexpected content after last section",
    ),
    ("integer representation too long", "integer too large"),
    ("integer too large", "integer representation too long"),
    ("illegal opcode", "unknown operator"),
    ("invalid result arity", "type mismatch"),
    (
        "function and code section have inconsistent lengths",
        "unexpected end",
    ),
    ("malformed UTF-8 encoding", "invalid UTF-8 encoding"),
];

/// 2.0 renamed the 1.0 suite's "invalid X" malformed-binary messages
/// ("invalid section id", "invalid mutability", "invalid UTF-8 encoding")
/// to "malformed X"; either wording is accepted.
const RENAMED_PREFIX: (&str, &str) = ("invalid ", "malformed ");

/// Whether our message `actual` matches the testsuite's `expected` text.
pub fn matches(expected: &str, actual: &str) -> bool {
    let (old, new) = RENAMED_PREFIX;
    let renamed = expected
        .strip_prefix(old)
        .is_some_and(|rest| actual.contains(&format!("{new}{rest}")));
    renamed
        || actual.contains(expected)
        || ALIASES
            .iter()
            .any(|&(e, also)| e == expected && actual.contains(also))
}

/// Whether our trap message `actual` says what the testsuite `expected`.
///
/// Like [`matches`], ours must contain the expected text. The 1.0 suite
/// once writes the reference interpreter's message with the element index
/// appended ("uninitialized element 7"); the spec's trap message is the
/// text without it, so a trailing index in the expectation may be missing
/// from ours.
pub fn trap_matches(expected: &str, actual: &str) -> bool {
    if actual.contains(expected) {
        return true;
    }
    match expected.rsplit_once(' ') {
        Some((text, index)) if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) => {
            actual.contains(text)
        }
        _ => false,
    }
}

#[test]
fn trap_messages_match() {
    assert!(trap_matches("integer overflow", "integer overflow"));
    assert!(trap_matches(
        "uninitialized element 7",
        "uninitialized element"
    ));
    assert!(!trap_matches("uninitialized element", "undefined element"));
    assert!(!trap_matches(
        "undefined element 7",
        "uninitialized element"
    ));
    assert!(!trap_matches("integer divide by zero", "integer overflow"));
}

#[test]
fn aliases_and_renames_match() {
    assert!(matches(
        "unexpected end",
        "unexpected end of section or function"
    ));
    assert!(matches(
        "unexpected end of section or function",
        "unexpected end (at offset 0x9)"
    ));
    assert!(matches(
        "invalid mutability",
        "malformed mutability (at offset 0x1f)"
    ));
    assert!(matches("zero flag expected", "zero byte expected"));
    assert!(!matches("type mismatch", "unknown local"));
    assert!(!matches("invalid mutability", "malformed section id"));
}
