#!/usr/bin/env node
// Runs an ONNX model in ONNX Runtime (npm onnxruntime-node, CPU) on raw tensors.
//   node ort_run.js ONNXRUNTIME_NODE_DIR MODEL.onnx IO_DIR [THREADS]
//       one run: reads IO_DIR/inputs.json, writes the outputs, exits.
//   node ort_run.js ONNXRUNTIME_NODE_DIR MODEL.onnx --serve [THREADS]
//       loads the session once, prints "ready <ort version>" on stdout, then for every line
//       "IO_DIR" on stdin runs the model and prints "ok <seconds of session.run>" or
//       "error <message>" (one line); exits at the end of stdin.
// IO_DIR/inputs.json:  [{"name", "dtype": "float32"|"int64"|"int32"|"bool"|"float64", "shape", "file"}]
// Writes IO_DIR/out_<i>.bin (raw little-endian, C order) and IO_DIR/outputs.json (same format,
// in the model's output order). THREADS = ONNX Runtime's intra-op threads (default 2).
// One-run mode exits with code 1 and the error on stderr on any failure.
'use strict';
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const [ortDir, modelPath, ioArg, threadsArg] = process.argv.slice(2);
if (!ortDir || !modelPath || !ioArg) {
  console.error('usage: ort_run.js ONNXRUNTIME_NODE_DIR MODEL.onnx (IO_DIR|--serve) [THREADS]');
  process.exit(2);
}
const threads = threadsArg ? parseInt(threadsArg, 10) : 2;
const ort = require(path.resolve(ortDir));

const kArrays = {
  float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array,
  uint8: Uint8Array, bool: Uint8Array,
};

function readTensor(ioDir, spec) {
  const buf = fs.readFileSync(path.join(ioDir, spec.file));
  const Arr = kArrays[spec.dtype];
  if (!Arr) throw new Error(`input ${spec.name}: unsupported dtype ${spec.dtype}`);
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  const data = new Arr(copy.buffer, 0, buf.byteLength / Arr.BYTES_PER_ELEMENT);
  return new ort.Tensor(spec.dtype, data, spec.shape);
}

// Runs the session on IO_DIR's inputs, writes the outputs; returns session.run's seconds.
async function runOnce(session, ioDir) {
  const specs = JSON.parse(fs.readFileSync(path.join(ioDir, 'inputs.json'), 'utf8'));
  const feeds = {};
  for (const spec of specs) feeds[spec.name] = readTensor(ioDir, spec);
  const start = process.hrtime.bigint();
  const results = await session.run(feeds);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const outputs = [];
  session.outputNames.forEach((name, i) => {
    const t = results[name];
    const file = `out_${i}.bin`;
    const data = t.data;
    fs.writeFileSync(path.join(ioDir, file),
                     Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    outputs.push({ name, dtype: t.type, shape: t.dims.map(Number), file });
  });
  fs.writeFileSync(path.join(ioDir, 'outputs.json'), JSON.stringify(outputs));
  return seconds;
}

async function createSession() {
  return ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

async function serve() {
  const session = await createSession();
  const version = (ort.env && ort.env.versions && ort.env.versions.common) || 'unknown';
  process.stdout.write(`ready ${version}\n`);
  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    if (line.length === 0) continue;
    try {
      const seconds = await runOnce(session, line);
      process.stdout.write(`ok ${seconds}\n`);
    } catch (e) {
      const message = String(e && e.message ? e.message : e).replace(/\n/g, ' ');
      process.stdout.write(`error ${message}\n`);
    }
  }
}

async function main() {
  if (ioArg === '--serve') return serve();
  const session = await createSession();
  await runOnce(session, ioArg);
}

main().catch((e) => {
  console.error(`ort_run.js: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
