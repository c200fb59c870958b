#!/usr/bin/env node
// Runs an ONNX model in ONNX Runtime (npm onnxruntime-node, CPU) on raw tensors.
//   node ort_run.js ONNXRUNTIME_NODE_DIR MODEL.onnx IO_DIR
// IO_DIR/inputs.json:  [{"name", "dtype": "float32"|"int64"|"int32"|"bool"|"float64", "shape", "file"}]
// Writes IO_DIR/out_<i>.bin (raw little-endian, C order) and IO_DIR/outputs.json (same format,
// in the model's output order). Exit code 1 with the error on stderr on any failure.
'use strict';
const fs = require('fs');
const path = require('path');

const [ortDir, modelPath, ioDir] = process.argv.slice(2);
if (!ortDir || !modelPath || !ioDir) {
  console.error('usage: ort_run.js ONNXRUNTIME_NODE_DIR MODEL.onnx IO_DIR');
  process.exit(2);
}
const ort = require(path.resolve(ortDir));

const kArrays = {
  float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array,
  uint8: Uint8Array, bool: Uint8Array,
};

function readTensor(spec) {
  const buf = fs.readFileSync(path.join(ioDir, spec.file));
  const Arr = kArrays[spec.dtype];
  if (!Arr) throw new Error(`input ${spec.name}: unsupported dtype ${spec.dtype}`);
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  const data = new Arr(copy.buffer, 0, buf.byteLength / Arr.BYTES_PER_ELEMENT);
  return new ort.Tensor(spec.dtype, spec.dtype === 'bool' ? Uint8Array.from(data) : data, spec.shape);
}

async function main() {
  const specs = JSON.parse(fs.readFileSync(path.join(ioDir, 'inputs.json'), 'utf8'));
  const feeds = {};
  for (const spec of specs) feeds[spec.name] = readTensor(spec);
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 2 });
  const results = await session.run(feeds);
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
}

main().catch((e) => {
  console.error(`ort_run.js: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
