//! A program that panics and catches across many frames: an expression
//! evaluator whose errors are panics caught at several levels, a tree walk
//! that catches at every few levels and rethrows the rest, unwinding
//! through 1 to 10,000 frames, destructors that print (and catch panics of
//! their own) while a panic passes through them, and payloads of several
//! types.
//!
//! Built twice from this one file: for `wasm32-unknown-unknown` with
//! `-C panic=unwind` and WebAssembly exception handling (`build.sh`), and
//! natively; `tests/exceptions_program.rs` runs the wasm build through the
//! `wasmkern` CLI and compares its standard output with the native one's.
//! The wasm build writes through WASI's `fd_write` itself (std has no
//! standard output on `wasm32-unknown-unknown`, the target whose unwinder
//! is part of std) and exports `_start`, so the CLI runs it as a command.

#![cfg_attr(target_arch = "wasm32", no_main)]

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};

#[cfg(target_arch = "wasm32")]
mod sink {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        fn fd_write(fd: i32, iovs: *const [usize; 2], iovs_len: i32, written: *mut usize) -> i32;
    }

    /// Writes `s` to standard output.
    pub fn write(s: &str) {
        let mut rest = s.as_bytes();
        while !rest.is_empty() {
            let iov = [rest.as_ptr() as usize, rest.len()];
            let mut written = 0;
            // SAFETY: the iovec names `rest`, live and readable for the
            // call, and `written` is a valid place for the count.
            let errno = unsafe { fd_write(1, &iov, 1, &mut written) };
            if errno != 0 || written == 0 {
                std::process::abort();
            }
            rest = &rest[written.min(rest.len())..];
        }
    }

    #[no_mangle]
    pub extern "C" fn _start() {
        super::main();
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod sink {
    /// Writes `s` to standard output.
    pub fn write(s: &str) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(s.as_bytes()).unwrap();
        out.flush().unwrap();
    }
}

macro_rules! say {
    ($($arg:tt)*) => { sink::write(&format!("{}\n", format_args!($($arg)*))) };
}

/// What a caught payload says.
fn describe(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("str {s:?}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("string {s:?}")
    } else if let Some(e) = payload.downcast_ref::<ParseError>() {
        format!("parse error at {}: {}", e.pos, e.msg)
    } else if let Some(e) = payload.downcast_ref::<EvalError>() {
        format!("eval error {e:?}")
    } else if let Some(f) = payload.downcast_ref::<Fatal>() {
        format!("fatal {}", f.0)
    } else if let Some(n) = payload.downcast_ref::<u64>() {
        format!("u64 {n}")
    } else {
        "something else".to_string()
    }
}

// ---------------------------------------------------------------------------
// Unwinding through 1 to 10,000 frames.

thread_local! {
    /// Depths of the guards dropped, in the order they were dropped.
    static DROPPED: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
    /// Whether guards print as they drop.
    static LOUD: Cell<bool> = const { Cell::new(false) };
    /// Whether the panic hook prints; it counts its calls either way.
    static HOOK_QUIET: Cell<bool> = const { Cell::new(false) };
    static HOOK_CALLS: Cell<u32> = const { Cell::new(0) };
}

struct Guard(u32);

impl Drop for Guard {
    fn drop(&mut self) {
        DROPPED.with(|d| d.borrow_mut().push(self.0));
        if LOUD.with(Cell::get) {
            say!(
                "  drop guard {} (unwinding: {})",
                self.0,
                std::thread::panicking()
            );
        }
    }
}

/// Recurses `left` more frames, each holding a guard, then panics.
#[inline(never)]
fn descend(depth: u32, left: u32, acc: u64) -> u64 {
    let _guard = Guard(depth);
    if left == 0 {
        panic::panic_any(acc);
    }
    // The addition after the call keeps the frame (no tail call).
    descend(
        depth + 1,
        left - 1,
        acc.wrapping_mul(31).wrapping_add(depth as u64),
    ) + 1
}

#[inline(never)]
fn unwind_depths() {
    say!("== unwinding through n frames");
    LOUD.with(|l| l.set(true));
    for n in [0, 1, 2, 4] {
        say!("depth {n}:");
        let r = panic::catch_unwind(|| descend(0, n, 7));
        say!("  caught {}", describe(&*r.unwrap_err()));
    }
    LOUD.with(|l| l.set(false));
    for n in [10, 100, 1000, 10_000] {
        DROPPED.with(|d| d.borrow_mut().clear());
        let r = panic::catch_unwind(|| descend(0, n, 7));
        let what = describe(&*r.unwrap_err());
        let dropped = DROPPED.with(|d| std::mem::take(&mut *d.borrow_mut()));
        let in_order = dropped.iter().rev().copied().eq(0..=n);
        say!(
            "depth {n}: caught {what}; {} guards dropped, deepest first: {in_order}",
            dropped.len()
        );
    }
}

// ---------------------------------------------------------------------------
// An expression evaluator: parse errors and evaluation errors are panics.

#[derive(Debug)]
struct ParseError {
    pos: usize,
    msg: &'static str,
}

#[derive(Debug)]
enum EvalError {
    DivideByZero,
    Overflow,
}

/// A payload that `try(a, b)` does not catch.
struct Fatal(i64);

#[derive(Debug)]
enum Expr {
    Num(i64),
    Neg(Box<Expr>),
    Bin(u8, Box<Expr>, Box<Expr>),
    /// `try(a, b)`: `a`, or `b` when `a` fails with an [`EvalError`].
    Try(Box<Expr>, Box<Expr>),
    /// `fatal(a)`: panics with [`Fatal`].
    Fatal(Box<Expr>),
}

struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn fail(&self, msg: &'static str) -> ! {
        panic::panic_any(ParseError { pos: self.pos, msg })
    }

    fn peek(&mut self) -> Option<u8> {
        while self.src.get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
        self.src.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.pos += 1;
        }
        found
    }

    fn expect(&mut self, c: u8, msg: &'static str) {
        if !self.eat(c) {
            self.fail(msg);
        }
    }

    fn expr(&mut self) -> Expr {
        let mut lhs = self.term();
        while let Some(op @ (b'+' | b'-')) = self.peek() {
            self.pos += 1;
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(self.term()));
        }
        lhs
    }

    fn term(&mut self) -> Expr {
        let mut lhs = self.factor();
        while let Some(op @ (b'*' | b'/' | b'%')) = self.peek() {
            self.pos += 1;
            lhs = Expr::Bin(op, Box::new(lhs), Box::new(self.factor()));
        }
        lhs
    }

    fn factor(&mut self) -> Expr {
        match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                let e = self.expr();
                self.expect(b')', "expected `)`");
                e
            }
            Some(b'-') => {
                self.pos += 1;
                Expr::Neg(Box::new(self.factor()))
            }
            Some(b'0'..=b'9') => {
                let start = self.pos;
                while matches!(self.src.get(self.pos), Some(b'0'..=b'9')) {
                    self.pos += 1;
                }
                let digits = std::str::from_utf8(&self.src[start..self.pos]).unwrap();
                match digits.parse() {
                    Ok(n) => Expr::Num(n),
                    Err(_) => self.fail("number too large"),
                }
            }
            Some(b'a'..=b'z') => {
                let start = self.pos;
                while matches!(self.src.get(self.pos), Some(b'a'..=b'z')) {
                    self.pos += 1;
                }
                let name = &self.src[start..self.pos];
                self.expect(b'(', "expected `(` after a name");
                let a = self.expr();
                let e = match name {
                    b"try" => {
                        self.expect(b',', "expected `,`");
                        Expr::Try(Box::new(a), Box::new(self.expr()))
                    }
                    b"fatal" => Expr::Fatal(Box::new(a)),
                    _ => self.fail("unknown function"),
                };
                self.expect(b')', "expected `)`");
                e
            }
            Some(_) => self.fail("unexpected character"),
            None => self.fail("unexpected end"),
        }
    }
}

thread_local! {
    /// Evaluation frames a panic unwound through, and `try`s that caught.
    static EVAL_UNWOUND: Cell<u32> = const { Cell::new(0) };
    static TRY_CAUGHT: Cell<u32> = const { Cell::new(0) };
}

/// Counts the evaluation frames a panic passes through.
struct EvalFrame;

impl Drop for EvalFrame {
    fn drop(&mut self) {
        if std::thread::panicking() {
            EVAL_UNWOUND.with(|c| c.set(c.get() + 1));
        }
    }
}

fn eval(e: &Expr) -> i64 {
    let _frame = EvalFrame;
    match e {
        Expr::Num(n) => *n,
        Expr::Neg(a) => eval(a)
            .checked_neg()
            .unwrap_or_else(|| panic::panic_any(EvalError::Overflow)),
        Expr::Bin(op, a, b) => {
            let (a, b) = (eval(a), eval(b));
            let r = match op {
                b'+' => a.checked_add(b),
                b'-' => a.checked_sub(b),
                b'*' => a.checked_mul(b),
                _ if b == 0 => panic::panic_any(EvalError::DivideByZero),
                b'/' => a.checked_div(b),
                _ => a.checked_rem(b),
            };
            r.unwrap_or_else(|| panic::panic_any(EvalError::Overflow))
        }
        Expr::Try(a, b) => match panic::catch_unwind(AssertUnwindSafe(|| eval(a))) {
            Ok(v) => v,
            Err(payload) if payload.is::<EvalError>() => {
                TRY_CAUGHT.with(|c| c.set(c.get() + 1));
                eval(b)
            }
            Err(payload) => panic::resume_unwind(payload),
        },
        Expr::Fatal(a) => panic::panic_any(Fatal(eval(a))),
    }
}

fn calculate(src: &str) -> String {
    HOOK_CALLS.with(|c| c.set(0));
    EVAL_UNWOUND.with(|c| c.set(0));
    TRY_CAUGHT.with(|c| c.set(0));
    let parsed = panic::catch_unwind(|| {
        let mut p = Parser {
            src: src.as_bytes(),
            pos: 0,
        };
        let e = p.expr();
        if p.peek().is_some() {
            p.fail("trailing input");
        }
        e
    });
    let e = match parsed {
        Ok(e) => e,
        Err(payload) => {
            return format!(
                "{} ({} panics)",
                describe(&*payload),
                HOOK_CALLS.with(Cell::get)
            )
        }
    };
    let r = panic::catch_unwind(|| eval(&e));
    let (unwound, caught) = (EVAL_UNWOUND.with(Cell::get), TRY_CAUGHT.with(Cell::get));
    let panics = HOOK_CALLS.with(Cell::get);
    let stats = format!("{panics} panics, try caught {caught}, unwound {unwound} frames");
    match r {
        Ok(v) => format!("= {v} ({stats})"),
        Err(payload) => format!("{} ({stats})", describe(&*payload)),
    }
}

#[inline(never)]
fn evaluator() {
    say!("== expression evaluator");
    HOOK_QUIET.with(|q| q.set(true));
    // `depth` parentheses around `inner`: that many levels of parsing.
    let nested =
        |depth: usize, inner: &str| format!("{}{inner}{}", "(".repeat(depth), ")".repeat(depth));
    // `1 + (1 + (... inner))`: that many levels of evaluation too.
    let sums = |depth: usize, inner: &str| {
        format!("{}{inner}{}", "1 + (".repeat(depth), ")".repeat(depth))
    };
    let mut inputs: Vec<String> = [
        "1 + 2 * 3",
        "(1 + 2) * 3 - -4",
        "7 / (5 - 5)",
        "try(1 / 0, 42) + 1",
        "try(try(7 % 0, 100 / 0), -1)",
        "try(2 + 3, 0) * try(9223372036854775807 + 1, 10)",
        "try(fatal(3 * 4), 1)",
        "try(1, 2) + fatal(try(1 / 0, 5))",
        "-9223372036854775807 - 2",
        "2 * (3 + ",
        "try(1 / 0, 2 +)",
        "4 $ 4",
        "nope(1)",
        "99999999999999999999",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    inputs.push(nested(300, "1 + 2"));
    inputs.push(nested(300, "1 +"));
    inputs.push(sums(300, "1 + 2"));
    inputs.push(sums(300, "1 / 0"));
    inputs.push(sums(300, "1 + )"));
    inputs.push(format!("try({}, 77)", sums(200, "8 % (2 - 2)")));
    inputs.push(format!("try({}, 77)", sums(200, "fatal(5)")));
    inputs.push(format!(
        "{} * 2",
        sums(100, &format!("try({}, 1000)", sums(100, "1 / 0")))
    ));
    let mut chain = "1".to_string();
    for i in 0..150 {
        chain = format!("try({chain} / {}, {i})", i % 3);
    }
    inputs.push(chain);
    for input in &inputs {
        let shown = if input.len() > 48 {
            format!(
                "{}...{} ({} bytes)",
                &input[..20],
                &input[input.len() - 20..],
                input.len()
            )
        } else {
            input.clone()
        };
        say!("{shown}: {}", calculate(input));
    }
    HOOK_QUIET.with(|q| q.set(false));
}

// ---------------------------------------------------------------------------
// A tree walk that catches at every `every`-th level.

struct Node {
    value: u64,
    children: Vec<Node>,
}

/// A tree `depth` levels deep with `fanout` children per node and values
/// from a linear congruential generator.
fn build(depth: u32, fanout: u32, seed: &mut u64) -> Node {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let value = *seed >> 54;
    let children = if depth == 0 {
        Vec::new()
    } else {
        (0..fanout)
            .map(|_| build(depth - 1, fanout, seed))
            .collect()
    };
    Node { value, children }
}

struct Walk {
    every: u32,
    poison: u64,
    catches: Vec<(u32, u64)>,
    rethrows: u32,
}

/// Sums the subtree; a node whose value is `poison` panics, and every
/// `every`-th level catches a panic from below, counts that subtree as 0,
/// except for the payload `"fatal"`, which it rethrows.
fn walk(node: &Node, level: u32, w: &mut Walk) -> u64 {
    if node.value == w.poison {
        if node.children.is_empty() {
            panic!("fatal");
        }
        panic!("poisoned node {} at level {level}", node.value);
    }
    let mut sum = node.value;
    for child in &node.children {
        sum += if w.every != 0 && level % w.every == 0 {
            match panic::catch_unwind(AssertUnwindSafe(|| walk(child, level + 1, w))) {
                Ok(v) => v,
                Err(payload) => match payload.downcast_ref::<&str>() {
                    Some(&"fatal") => {
                        w.rethrows += 1;
                        panic::resume_unwind(payload)
                    }
                    _ => {
                        w.catches.push((level, child.value));
                        0
                    }
                },
            }
        } else {
            walk(child, level + 1, w)
        };
    }
    sum
}

#[inline(never)]
fn tree_walk() {
    say!("== tree walk");
    let mut seed = 1;
    let tree = build(7, 3, &mut seed);
    for (every, poison) in [
        (0, 2000),
        (1, 2000),
        (0, 517),
        (1, 517),
        (2, 517),
        (3, 517),
        (3, 880),
        (5, 880),
        (2, 1),
    ] {
        let mut w = Walk {
            every,
            poison,
            catches: Vec::new(),
            rethrows: 0,
        };
        let r = panic::catch_unwind(AssertUnwindSafe(|| walk(&tree, 0, &mut w)));
        let result = match r {
            Ok(sum) => format!("sum {sum}"),
            Err(payload) => format!("escaped: {}", describe(&*payload)),
        };
        let shown: Vec<_> = w.catches.iter().take(6).collect();
        say!(
            "catch every {every}, poison {poison}: {result}; {} catches {shown:?}, {} rethrows",
            w.catches.len(),
            w.rethrows
        );
    }
}

// ---------------------------------------------------------------------------
// Destructors during unwinding, nested panics, payload types.

struct Loud(&'static str);

impl Drop for Loud {
    fn drop(&mut self) {
        say!(
            "  drop {} (unwinding: {})",
            self.0,
            std::thread::panicking()
        );
    }
}

/// Catches a panic of its own while another one unwinds through it.
struct CatchesInDrop;

impl Drop for CatchesInDrop {
    fn drop(&mut self) {
        let r = panic::catch_unwind(|| {
            let _inner = Loud("inside the destructor's own panic");
            panic!("raised in a destructor");
        });
        say!(
            "  destructor caught {} (unwinding: {})",
            describe(&*r.unwrap_err()),
            std::thread::panicking()
        );
    }
}

/// Panics when dropped outside a panic.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        say!(
            "  PanicsOnDrop dropped (unwinding: {})",
            std::thread::panicking()
        );
        if !std::thread::panicking() {
            panic!("from drop");
        }
    }
}

#[inline(never)]
fn scoped(n: u32) -> u32 {
    let _a = Loud("a");
    {
        let _b = Loud("b, inner scope, dropped before the call");
    }
    let _c = Loud("c");
    let v = vec![Loud("vec[0]"), Loud("vec[1]")];
    let _d = CatchesInDrop;
    if n > 0 {
        panic!("from scoped({n})");
    }
    drop(v);
    n
}

#[inline(never)]
fn destructors() {
    say!("== destructors");
    say!("no panic:");
    let r = panic::catch_unwind(|| scoped(0));
    say!("  returned {:?}", r.ok());
    say!("panic:");
    let r = panic::catch_unwind(|| scoped(3));
    say!("  caught {}", describe(&*r.unwrap_err()));
    say!("panic from a destructor, not unwinding:");
    let r = panic::catch_unwind(|| {
        let _outer = Loud("outer");
        let _p = PanicsOnDrop;
        1
    });
    say!("  caught {}", describe(&*r.unwrap_err()));
    say!("PanicsOnDrop while unwinding:");
    let r = panic::catch_unwind(|| {
        let _p = PanicsOnDrop;
        panic!("first");
    });
    say!("  caught {}", describe(&*r.unwrap_err()));
    say!("panic in a handler:");
    let r = panic::catch_unwind(|| {
        let _guard = Loud("outer closure");
        let inner = panic::catch_unwind(|| panic::panic_any(1_u64));
        let n = *inner.unwrap_err().downcast::<u64>().unwrap();
        panic::panic_any(n + 41)
    });
    say!("  caught {}", describe(&*r.unwrap_err()));
    say!("payloads:");
    let payloads: Vec<Box<dyn Fn() + panic::RefUnwindSafe>> = vec![
        Box::new(|| panic!("a literal")),
        Box::new(|| panic!("formatted {}", 6 * 7)),
        Box::new(|| panic::panic_any(String::from("a String"))),
        Box::new(|| {
            panic::panic_any(ParseError {
                pos: 9,
                msg: "custom",
            })
        }),
        Box::new(|| panic::panic_any(3.5_f32)),
        Box::new(|| panic::resume_unwind(Box::new(12_u64))),
    ];
    for f in &payloads {
        let r = panic::catch_unwind(|| f());
        say!("  caught {}", describe(&*r.unwrap_err()));
    }
}

// Each section above is a function of its own (`#[inline(never)]`): with
// all four inlined into `main`, LLVM 22's WebAssembly exception handling
// fails on `main` ("SmallVector unable to grow").
fn main() {
    panic::set_hook(Box::new(|info| {
        HOOK_CALLS.with(|c| c.set(c.get() + 1));
        if !HOOK_QUIET.with(Cell::get) {
            let line = info.location().map_or(0, |l| l.line());
            say!(
                "  [hook] panic at line {line}: {}",
                describe(info.payload())
            );
        }
    }));
    unwind_depths();
    evaluator();
    tree_walk();
    destructors();
    let _ = panic::take_hook();
    say!("done");
}
