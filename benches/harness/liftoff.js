// V8 Liftoff runner for the wasmkern benchmark harness. Run it as
//
//   node --liftoff-only --no-wasm-tier-up --no-wasm-dynamic-tiering \
//        --no-wasm-lazy-compilation liftoff.js [--runs N] [--compiles N] [--compile-only] FILE.wasm...
//
// Prints one JSON array: for each file, the times of --compiles (default:
// --runs) compilations (synchronous
// `new WebAssembly.Module`, every function compiled eagerly by Liftoff; no
// cache hits, see `variant`), the
// instantiation time, and (unless --compile-only) the times of `run()` after
// one warm-up call on the same instance, with its checksum as a string.
'use strict';
const fs = require('fs');

const args = process.argv.slice(2);
let runs = 5;
let compiles = null;
let compileOnly = false;
const files = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--runs') runs = parseInt(args[++i], 10);
  else if (args[i] === '--compiles') compiles = parseInt(args[++i], 10);
  else if (args[i] === '--compile-only') compileOnly = true;
  else files.push(args[i]);
}

// V8 keeps compiled modules in a cache keyed by their bytes, so compiling
// the same bytes again would measure a cache hit: every compilation gets a
// different module, the original plus a custom section named after `i`.
function variant(bytes, i) {
  const name = Buffer.from(`harness-${i}`);
  const section = Buffer.concat([Buffer.from([0, name.length + 1, name.length]), name]);
  return Buffer.concat([bytes, section]);
}

const seconds = (t0) => Number(process.hrtime.bigint() - t0) / 1e9;
const imports = { env: { nop: () => {} } };
const out = [];
for (const file of files) {
  const bytes = fs.readFileSync(file);
  const result = { file, compile_s: [], run_s: [] };
  try {
    let module;
    for (let i = 0; i < (compiles ?? runs); i++) {
      const b = variant(bytes, i);
      const t0 = process.hrtime.bigint();
      module = new WebAssembly.Module(b);
      result.compile_s.push(seconds(t0));
    }
    if (!compileOnly) {
      const t0 = process.hrtime.bigint();
      const instance = new WebAssembly.Instance(module, imports);
      result.instantiate_s = seconds(t0);
      const run = instance.exports.run;
      result.checksum = String(run());
      for (let i = 0; i < runs; i++) {
        const t1 = process.hrtime.bigint();
        const c = String(run());
        result.run_s.push(seconds(t1));
        if (c !== result.checksum) throw new Error(`checksum changed between runs: ${result.checksum} then ${c}`);
      }
    }
  } catch (e) {
    result.error = String(e && e.message ? e.message : e);
  }
  out.push(result);
}
process.stdout.write(JSON.stringify(out) + '\n');
