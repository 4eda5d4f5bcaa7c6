// bench.js times ONNX Runtime (npm onnxruntime-node, CPU execution provider) on the
// encoders that export.py wrote, the way a user of ONNX Runtime runs them: one
// InferenceSession per model with intraOpNumThreads = threads, interOpNumThreads 1,
// sequential execution and graphOptimizationLevel 'all' (the default spinning of its
// thread pool left on).
//
// Usage:
//   node bench.js --models DIR --check
//       runs each model on the inputs in DIR/check and compares with PyTorch's outputs;
//       prints the max |diff| per output and exits 1 beyond the tolerance
//   node bench.js --models DIR --threads T --workload image|features|text --batch B
//                 [--repeat R] [--warmup W] [--ids FILE]
//       image: image.onnx (features and tokens); features: image_features.onnx (the
//       features alone); text: ids FILE, one JSON array of the context length's ids per line (as
//       `coca tokenize --context-length L` writes them), cycled to the batch; without
//       it, ids 1 + (7919 i mod (V−1)), no padding
//       prints one JSON line: {"workload", "batch", "threads", "seconds" (median),
//       "min", "cpu_seconds" (process CPU time per run, all threads), "repeat"}
// NODE_PATH (or a node_modules beside or above the working directory) must hold
// onnxruntime-node.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function args() {
  const a = { repeat: 10, warmup: 2, threads: 1, batch: 1 };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i++) {
    const k = v[i].replace(/^--/, '');
    if (k === 'check') { a.check = true; continue; }
    a[k] = v[++i];
  }
  for (const k of ['repeat', 'warmup', 'threads', 'batch']) a[k] = Number(a[k]);
  if (!a.models) throw new Error('bench.js: --models DIR is required');
  return a;
}

function session(file, threads) {
  return ort.InferenceSession.create(file, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}

function readTensor(dir, d) {
  const buf = fs.readFileSync(path.join(dir, d.file));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  const data = d.dtype === 'int64' ? new BigInt64Array(ab) : new Float32Array(ab);
  return new ort.Tensor(d.dtype, data, d.shape);
}

// Tolerance of the check: max |diff| of normalized features and pooled tokens,
// float32 against float32 (PyTorch's reductions and ONNX Runtime's fused kernels
// differ in rounding; measured on coca_ViT-B-32: features 1.6e-7, tokens 3.8e-6).
const checkTol = 2e-5;

async function check(a) {
  const dir = path.join(a.models, 'check');
  const meta = JSON.parse(fs.readFileSync(path.join(dir, 'check.json')));
  const sessions = {};
  let worst = 0;
  for (const c of meta.checks) {
    sessions[c.model] = sessions[c.model] || await session(path.join(a.models, c.model), 2);
    const feeds = {};
    for (const [name, d] of Object.entries(c.inputs)) feeds[name] = readTensor(dir, d);
    const out = await sessions[c.model].run(feeds);
    for (const [name, d] of Object.entries(c.outputs)) {
      const want = readTensor(dir, d).data;
      const got = out[name];
      if (got.dims.join('x') !== d.shape.join('x')) {
        throw new Error(`${c.model} ${name}: ONNX Runtime shape ${got.dims} != PyTorch ${d.shape}`);
      }
      let m = 0;
      for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got.data[i] - want[i]));
      worst = Math.max(worst, m);
      console.log(`${c.model} ${name} ${d.shape.join('x')}: max |ONNX Runtime - PyTorch| = ${m.toExponential(2)}`);
    }
  }
  if (!(worst <= checkTol)) {
    console.log(`FAIL: max |diff| ${worst.toExponential(2)} > ${checkTol}`);
    process.exit(1);
  }
  console.log(`PASS (tolerance ${checkTol})`);
}

async function bench(a) {
  const meta = JSON.parse(fs.readFileSync(path.join(a.models, 'check', 'check.json')));
  let model, feeds;
  if (a.workload === 'image' || a.workload === 'features') {
    const s = meta.image_size, n = a.batch * 3 * s * s;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.sin(i * 0.37) * 1.5;
    model = a.workload === 'image' ? 'image.onnx' : 'image_features.onnx';
    feeds = { image: new ort.Tensor('float32', x, [a.batch, 3, s, s]) };
  } else if (a.workload === 'text') {
    const l = meta.context_length, n = a.batch * l;
    const x = new BigInt64Array(n);
    if (a.ids) {
      const rows = fs.readFileSync(a.ids, 'utf8').trim().split('\n').map((r) => JSON.parse(r));
      for (const r of rows) {
        if (r.length !== l) throw new Error(`bench.js: ${a.ids}: a row of ${r.length} ids, want ${l}`);
      }
      for (let i = 0; i < n; i++) x[i] = BigInt(rows[Math.floor(i / l) % rows.length][i % l]);
    } else {
      for (let i = 0; i < n; i++) x[i] = BigInt(1 + (i * 7919) % (meta.vocab_size - 1));
    }
    model = 'text.onnx';
    feeds = { text: new ort.Tensor('int64', x, [a.batch, l]) };
  } else {
    throw new Error(`bench.js: --workload ${a.workload}: want image, features or text`);
  }
  const s = await session(path.join(a.models, model), a.threads);
  for (let i = 0; i < a.warmup; i++) await s.run(feeds);
  const ts = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < a.repeat; i++) {
    const t0 = process.hrtime.bigint();
    await s.run(feeds);
    ts.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const cpu = process.cpuUsage(cpu0);
  const sorted = [...ts].sort((x, y) => x - y);
  const med = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  console.log(JSON.stringify({
    workload: a.workload, batch: a.batch, threads: a.threads, seconds: med, min: sorted[0],
    cpu_seconds: (cpu.user + cpu.system) / 1e6 / a.repeat, repeat: a.repeat, ort: '1.30.0',
  }));
}

const a = args();
(a.check ? check(a) : bench(a)).catch((e) => { console.error(e); process.exit(1); });
