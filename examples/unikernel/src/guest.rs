//! The WebAssembly part: placeholder until the runtime API lands.

use alloc::vec::Vec;

use crate::sprintln;

/// Runs the guest and checks its results; `true` if all were right.
pub fn run() -> bool {
    let squares: Vec<u64> = (1..=10).map(|i| i * i).collect();
    let sum: u64 = squares.iter().sum();
    sprintln!("placeholder: heap Vec sum of squares 1..=10 = {sum}");
    sum == 385
}
