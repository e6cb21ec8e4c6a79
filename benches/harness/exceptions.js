// V8 runner of the harness's exceptions benchmark (benches/workloads/throw.wat,
// given compiled: the harness writes the .wasm). Run it as
//
//   node [V8 FLAGS] exceptions.js [--runs N] FILE.wasm EXPORT:DEPTH...
//
// Needs a node whose V8 has the standard exception handling (exnref): node
// 24 or newer (benches/README.md says how the harness gets one). For each
// case, the same method as the harness's Rust child (src/child.rs,
// `exceptions`): the iteration count doubles until one call takes 20 ms
// (which warms the code up), is scaled to take about 100 ms, and N calls of
// EXPORT(DEPTH, iters) are timed. Prints one JSON array, one object per
// case: iters, the ns per iteration of each call, and the checksum. The
// clock is the main thread's CPU time (process.threadCpuUsage, node 23.9
// and later), as the Rust child's, steadier than wall time on a shared
// machine.
'use strict';
const fs = require('fs');

const args = process.argv.slice(2);
let runs = 5;
let file;
const cases = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--runs') runs = parseInt(args[++i], 10);
  else if (file === undefined) file = args[i];
  else cases.push(args[i]);
}

const cpu = () => {
  const u = process.threadCpuUsage();
  return (u.user + u.system) / 1e6;
};
const out = [];
let instance;
try {
  instance = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(file)), {});
} catch (e) {
  const error = String(e && e.message ? e.message : e);
  process.stdout.write(JSON.stringify(cases.map((c) => ({ case: c, error }))) + '\n');
  process.exit(0);
}
for (const c of cases) {
  const [name, depthText] = c.split(':');
  const depth = parseInt(depthText, 10);
  const result = { case: c, ns: [] };
  try {
    const f = instance.exports[name];
    if (typeof f !== 'function') throw new Error(`no export ${name}`);
    const timed = (iters) => {
      const t0 = cpu();
      const checksum = f(depth, iters);
      return [cpu() - t0, String(checksum)];
    };
    let iters = 1;
    let [t] = timed(iters);
    while (t < 0.02) {
      iters *= 2;
      [t] = timed(iters);
    }
    iters = Math.max(1, Math.ceil((iters * 0.1) / t));
    result.iters = iters;
    for (let i = 0; i < runs; i++) {
      const [s, checksum] = timed(iters);
      result.ns.push((s * 1e9) / iters);
      if (result.checksum !== undefined && result.checksum !== checksum) {
        throw new Error(`checksum changed between runs: ${result.checksum} then ${checksum}`);
      }
      result.checksum = checksum;
    }
  } catch (e) {
    result.error = String(e && e.message ? e.message : e);
  }
  out.push(result);
}
process.stdout.write(JSON.stringify(out) + '\n');
