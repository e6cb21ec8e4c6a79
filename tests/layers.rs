//! The crate's top-level modules import one another one way only, along
//! the layers the crate docs (`src/lib.rs`, "Layers") describe.
//!
//! The check reads the source: every `crate::` path (in `use` items and in
//! expressions, grouped imports included) of a file under `src/<module>`
//! names a top-level module, which must lie in a lower layer than
//! `<module>`. Comments are skipped; the crate root (`src/lib.rs`), which
//! puts the layers together, is not checked. Set `WASMKERN_LAYERS_SRC` to
//! another `src` directory to check that tree instead (an older commit's,
//! say).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may import from the layers below
/// its own, not from its own layer nor from those above.
const LAYERS: &[&[&str]] = &[
    &["error", "asm", "code_memory", "sha256"],
    &["decode"],
    &["abi"],
    &["platform"],
    &["validate"],
    &["compile"],
    &["runtime"],
    &["wasi"],
    &["host"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The file's text without `//` comments (doc comments included) and
/// without the contents of string literals, so neither can fake an
/// import.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => {
                    in_string = false;
                    out.push('"');
                }
                '\n' => out.push('\n'),
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push('"');
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            // A char literal such as '"' must not open a string.
            '\'' => {
                out.push('\'');
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with("\"'") {
                    chars.next();
                    chars.next();
                    out.push('\'');
                } else if rest.starts_with("\\\"'") {
                    chars.next();
                    chars.next();
                    chars.next();
                    out.push('\'');
                }
            }
            _ => out.push(c),
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The top-level names `code` reaches with `crate::` paths: `crate::a::b`
/// gives `a`; `crate::{a::b, c}` gives `a` and `c`.
fn crate_paths(code: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(i) = code[at..].find("crate::") {
        let start = at + i;
        at = start + "crate::".len();
        let before = code[..start].chars().next_back();
        // `$crate::` in macros is the crate too; `mycrate::` is not.
        if before.is_some_and(is_ident) {
            continue;
        }
        let line = code[..start].matches('\n').count() + 1;
        let rest = &code[at..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group: the first identifier after the
            // opening brace and after each comma at depth 1.
            let mut depth = 1;
            let mut expect_name = true;
            let mut name = String::new();
            for c in group.chars() {
                if expect_name && is_ident(c) {
                    name.push(c);
                    continue;
                }
                if !name.is_empty() {
                    found.push((line, std::mem::take(&mut name)));
                }
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => {
                        expect_name = true;
                        continue;
                    }
                    _ => {}
                }
                if !c.is_whitespace() {
                    expect_name = false;
                }
            }
        } else {
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if !name.is_empty() {
                found.push((line, name));
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every import in `src` against the layers, as "file:line: a imports b".
fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    assert!(!files.is_empty(), "no Rust files under {}", src.display());
    let mut out = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let first = relative
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .expect("a path component");
        let module = first.strip_suffix(".rs").unwrap_or(first);
        if module == "lib" {
            continue;
        }
        let Some(own) = layer_of(module) else {
            out.push(format!(
                "{}: module `{module}` is in no layer (add it to LAYERS and the crate docs)",
                relative.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let mut seen = BTreeSet::new();
        for (line, target) in crate_paths(&code_only(&text)) {
            if target == module {
                continue;
            }
            // Items of the crate root (re-exports, macros, the platform
            // choice) are not modules.
            let Some(theirs) = layer_of(&target) else {
                continue;
            };
            if theirs >= own && seen.insert((line, target.clone())) {
                out.push(format!(
                    "{}:{line}: `{module}` imports `{target}`, which is not below it",
                    relative.display()
                ));
            }
        }
    }
    out
}

#[test]
fn imports_follow_the_layers() {
    let src = std::env::var_os("WASMKERN_LAYERS_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let found = violations(&src);
    assert!(
        found.is_empty(),
        "imports against the layers:\n{}",
        found.join("\n")
    );
}

#[test]
fn every_top_level_module_is_in_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("src/lib.rs");
    for line in code_only(&lib).lines() {
        let line = line.trim();
        let Some(rest) = line
            .strip_prefix("pub mod ")
            .or_else(|| line.strip_prefix("pub(crate) mod "))
            .or_else(|| line.strip_prefix("mod "))
        else {
            continue;
        };
        let name = rest.trim_end_matches(';');
        assert!(layer_of(name).is_some(), "module `{name}` is in no layer");
    }
}

/// The check finds what it is for: a lower layer importing a higher one,
/// plain or inside a group, and an import within one layer; it ignores
/// comments, strings and the crate root's items.
#[test]
fn the_check_catches_imports_against_the_layers() {
    let dir = std::env::temp_dir().join(format!("wasmkern-layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("compile")).unwrap();
    std::fs::write(
        dir.join("abi.rs"),
        "use crate::decode::ValType;\n\
         // use crate::runtime::Store;\n\
         const S: &str = \"crate::host\";\n\
         fn f() { crate::default_platform(); }\n\
         use crate::{error::Error, validate::Info};\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("compile/func.rs"),
        "use crate::{abi::X, asm::{Gpr, Mem}};\nfn g() { crate::host::prefault(); }\n",
    )
    .unwrap();
    std::fs::write(dir.join("lib.rs"), "use crate::host::Linux;\n").unwrap();
    let found = violations(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(
        found,
        [
            "abi.rs:5: `abi` imports `validate`, which is not below it",
            "compile/func.rs:2: `compile` imports `host`, which is not below it",
        ]
    );
}
