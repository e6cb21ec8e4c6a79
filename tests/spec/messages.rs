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
    // The custom-page-sizes suite names the opcode byte, ours does not.
    ("illegal opcode ff", "illegal opcode"),
    ("invalid result arity", "type mismatch"),
    (
        "function and code section have inconsistent lengths",
        "unexpected end",
    ),
    ("malformed UTF-8 encoding", "invalid UTF-8 encoding"),
    // 3.0 wording (the function-references suite) versus 2.0 wording.
    ("immutable global", "global is immutable"),
];

/// One rejection whose message differs from the testsuite's text for a
/// reason we checked, in one file: when `file` expects `expected`, a message
/// containing `ours` is accepted, because of `why`.
pub struct Equivalent {
    pub file: &'static str,
    pub expected: &'static str,
    pub ours: &'static str,
    pub why: &'static str,
}

/// The rejections of the suites whose message is not the testsuite's, each
/// justified. They are counted separately in the report ("matched through
/// the equivalent-message table"); a rejection that matches neither the
/// expected text nor an entry here is a failure.
///
/// Most come from where the reference interpreter and wasmkern stop
/// reading: the reference decoder reads a whole function before
/// validating it and reads some vectors on past the end of their section,
/// where wasmkern validates while it decodes and never reads past a
/// section's or a body's declared size, so it reports the first error in
/// byte order, inside the bounds the module declares.
pub const EQUIVALENTS: &[Equivalent] = &[
    // The memory64 suite's copies of the 1.0 LEB128 tests, where memory
    // limits are read as u64s: the section's declared size still ends
    // inside the over-long LEB128 (sized for the u32 of 1.0), so the
    // section runs out before the LEB128 is too long or too large.
    Equivalent {
        file: "binary.wast",
        expected: "integer representation too long",
        ours: "unexpected end",
        why: "memory64 suite: a memory section's declared size ends inside \
              the limit's over-long LEB128, so the section runs out first",
    },
    Equivalent {
        file: "binary.wast",
        expected: "integer too large",
        ours: "unexpected end",
        why: "memory64 suite: a memory section's declared size ends inside \
              the limit's LEB128, so the section runs out before its last \
              byte's unused bits are read",
    },
    Equivalent {
        file: "binary.wast",
        expected: "integer representation too long",
        ours: "malformed functype",
        why: "memory64 suite, as in binary-leb128.wast: a function type's \
              form written as a two-byte LEB128 (0xe0 0x7f): the binary \
              format makes the form the single byte 0x60",
    },
    Equivalent {
        file: "binary.wast",
        expected: "integer representation too long",
        ours: "section size mismatch",
        why: "memory64 suite: a body's declared size ends inside a memarg \
              offset's LEB128 while the code section's size counts all of \
              it: wasmkern checks the bodies' sizes against the section's \
              before it decodes a body",
    },
    Equivalent {
        file: "binary.wast",
        expected: "integer too large",
        ours: "section size mismatch",
        why: "memory64 suite: the same truncated body, with unused bits set \
              in the offset's last byte",
    },
    Equivalent {
        file: "binary-leb128.wast",
        expected: "integer too large",
        ours: "unexpected end",
        why: "memory64 suite: a memory section's declared size ends inside \
              the limit's LEB128 (now a u64), so the section runs out before \
              its last byte's unused bits are read",
    },
    Equivalent {
        file: "binary-leb128.wast",
        expected: "integer too large",
        ours: "length out of bounds",
        why: "memory64 suite: a function body's declared size ends inside a \
              memarg offset's 10-byte LEB128, so the body runs out before \
              its last byte's unused bits are read",
    },
    Equivalent {
        file: "binary.wast",
        expected: "unexpected end of section or function",
        ours: "END opcode expected",
        why: "a function body whose declared size ends before its `end`: \
              wasmkern stops at the declared size",
    },
    Equivalent {
        file: "binary.wast",
        expected: "section size mismatch",
        ours: "END opcode expected",
        why: "a body missing its `end`, followed by a section whose id is \
              0x0b: the reference decoder reads that id as the `end`, \
              wasmkern stops at the body's declared size",
    },
    Equivalent {
        file: "binary.wast",
        expected: "unexpected end",
        ours: "END opcode expected",
        why: "a body missing its `end` (the same truncation, found at the \
              body's declared size)",
    },
    Equivalent {
        file: "binary.wast",
        expected: "illegal opcode",
        ours: "unexpected end",
        why: "a global initializer missing its `end`: the reference decoder \
              reads the next section's id as an opcode, wasmkern stops at \
              the global section's declared size",
    },
    Equivalent {
        file: "binary.wast",
        expected: "invalid value type",
        ours: "unexpected end",
        why: "a vector with fewer entries than its count (1.0 suite): the \
              reference decoder reads the next section as the missing \
              entry, wasmkern stops at the section's declared size",
    },
    Equivalent {
        file: "binary.wast",
        expected: "unexpected end of section or function",
        ours: "unknown label",
        why: "a `br_table` with fewer targets than its count (1.0 suite): \
              the body's `end` byte is read as a label, and wasmkern, which \
              validates while decoding, reports that label before reaching \
              the body's end",
    },
    Equivalent {
        file: "binary.wast",
        expected: "unexpected content after last section",
        ours: "multiple start sections",
        why: "a second start section: both say a section appears after the \
              only place it may appear",
    },
    Equivalent {
        file: "binary.wast",
        expected: "unexpected content after last section",
        ours: "function and code section have inconsistent lengths",
        why: "two code sections of one function each for two functions: \
              wasmkern checks the first code section's count against the \
              function section before reading on",
    },
    Equivalent {
        file: "binary-leb128.wast",
        expected: "integer representation too long",
        ours: "unexpected end",
        why: "1.0 suite: the section's declared size ends inside the \
              over-long LEB128, so the section runs out first",
    },
    Equivalent {
        file: "binary-leb128.wast",
        expected: "integer representation too long",
        ours: "length out of bounds",
        why: "1.0 suite: the code section's declared size ends inside the \
              over-long LEB128, so the body's length runs past its section",
    },
    Equivalent {
        file: "binary-leb128.wast",
        expected: "integer representation too long",
        ours: "malformed section id",
        why: "1.0 suite: the section's declared size ends inside the \
              over-long LEB128 and its last byte is read as a section id",
    },
    Equivalent {
        file: "binary-leb128.wast",
        expected: "integer representation too long",
        ours: "malformed functype",
        why: "a function type's form written as a two-byte LEB128 (0xe0 \
              0x7f): the binary format makes the form the single byte 0x60",
    },
    Equivalent {
        file: "address.wast",
        expected: "i32 constant",
        ours: "integer too large",
        why: "a text-format assertion (`module quote`) the `wast` parser \
              encodes anyway: the offset 2^32 becomes a u32 LEB128 that does \
              not fit",
    },
    Equivalent {
        file: "memory.wast",
        expected: "i32 constant out of range",
        ours: "integer too large",
        why: "a text-format assertion (`module quote`) the `wast` parser \
              encodes anyway: a limit of 2^32 becomes a u32 LEB128 that \
              does not fit",
    },
    Equivalent {
        file: "table.wast",
        expected: "i32 constant out of range",
        ours: "integer too large",
        why: "a text-format assertion (`module quote`) the `wast` parser \
              encodes anyway: a limit of 2^32 becomes a u32 LEB128 that \
              does not fit",
    },
    Equivalent {
        file: "simd_address.wast",
        expected: "offset out of range",
        ours: "integer too large",
        why: "an offset of 2^32: in WebAssembly 2.0 a memarg offset is a \
              u32 LEB128, so the module is malformed before validation \
              could find the offset out of range (the suite's text comes \
              from the memory64 proposal's 64-bit offsets)",
    },
    Equivalent {
        file: "try_table.wast",
        expected: "unexpected token",
        ours: "legacy exception handling",
        why: "a text-format assertion (`module quote`) the `wast` parser \
              encodes anyway: `catch` and `catch_all` outside a `try_table` \
              are the legacy instructions (opcodes 0x07 and 0x19), which \
              wasmkern's decoder rejects as malformed",
    },
    Equivalent {
        file: "throw.wast",
        expected: "type mismatch: instruction requires [i32] but stack has []",
        ours: "type mismatch: expected i32, found nothing",
        why: "the same error in our words: the reference interpreter \
              prints both stacks, we print the first value that differs",
    },
    Equivalent {
        file: "throw.wast",
        expected: "type mismatch: instruction requires [i32] but stack has [i64]",
        ours: "type mismatch: expected i32, found i64",
        why: "the same error in our words: the reference interpreter \
              prints both stacks, we print the first value that differs",
    },
];

/// If `file`'s expected text `expected` is answered by `actual` through an
/// entry of [`EQUIVALENTS`], that entry.
pub fn equivalent(file: &str, expected: &str, actual: &str) -> Option<&'static Equivalent> {
    EQUIVALENTS
        .iter()
        .find(|e| e.file == file && e.expected == expected && actual.contains(e.ours))
}

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

#[test]
fn equivalents_are_scoped_to_their_file() {
    assert!(
        equivalent(
            "binary.wast",
            "illegal opcode",
            "unexpected end (at offset 0x19)"
        )
        .is_some()
    );
    assert!(
        equivalent(
            "data.wast",
            "illegal opcode",
            "unexpected end (at offset 0x19)"
        )
        .is_none()
    );
    assert!(equivalent("binary.wast", "illegal opcode", "type mismatch").is_none());
}
