// The part of the TF.js runner that Node and the browser share: backend setup, the command
// protocol, prediction and in-runtime timing. It imports nothing; the caller passes in the `tf`
// namespace it loaded (CommonJS packages in Node, UMD scripts in the page), so both environments
// run exactly this code.
//
// Protocol: one request object in, one response object out.
//   {id, op: "info"}                                        -> {info}
//   {id, op: "predict", input, shape}                       -> {output (base64 float32), shape}
//   {id, op: "prepare", input, shape}                       -> {tensor}
//   {id, op: "invoke", tensor}                              -> {output, shape}
//   {id, op: "time", tensor, warmup, min_runs, min_time_s, max_runs} -> {latencies_ms}
// `input` is a reference the environment's readInput() turns into the float32 bytes of the
// tensor (a file path in Node, a URL in the page); every response carries ok: true|false.

export const BACKENDS = ['wasm', 'cpu'];

// Select and initialise the backend. For wasm: binaries from wasmDir (never a CDN), XNNPACK
// threads as requested; tfjs itself picks SIMD and threads where the environment supports them.
export async function initBackend(tf, { backend, threads, wasmDir }) {
  if (!BACKENDS.includes(backend)) {
    throw new Error(`unknown backend ${JSON.stringify(backend)}; use one of ${BACKENDS.join(', ')}`);
  }
  if (backend === 'wasm') {
    tf.wasm.setWasmPaths(wasmDir);
    if (threads > 0) tf.wasm.setThreadsCount(threads);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`the ${backend} backend failed to initialise`);
  await tf.ready();
}

// What every result records: versions, backend, and the wasm features really in use.
export async function backendInfo(tf, platform) {
  const backend = tf.getBackend();
  const info = { tfjs_version: tf.version_core, backend, platform, threads: 1, simd: false };
  if (backend === 'wasm') {
    info.simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
    info.threads_supported = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
    info.threads = tf.wasm.getThreadsCount();
    info.wasm_binary = loadedWasmBinary() ?? expectedWasmBinary(info.simd, info.threads_supported);
  }
  if (typeof globalThis.crossOriginIsolated === 'boolean') info.cross_origin_isolated = globalThis.crossOriginIsolated;
  return info;
}

// In a browser the fetched binary is visible in the resource timing entries: report what was
// actually loaded rather than what should have been.
function loadedWasmBinary() {
  if (typeof performance.getEntriesByType !== 'function') return null;
  const entry = performance.getEntriesByType('resource').find((e) => e.name.endsWith('.wasm'));
  return entry ? entry.name.split('/').pop() : null;
}

// The same rule tfjs-backend-wasm applies when it picks a binary (Node never gets threads).
function expectedWasmBinary(simd, threads) {
  if (simd && threads) return 'tfjs-backend-wasm-threaded-simd.wasm';
  return simd ? 'tfjs-backend-wasm-simd.wasm' : 'tfjs-backend-wasm.wasm';
}

export function modelSignature(model) {
  const names = (nodes) => nodes.map((n) => n.name);
  return { inputs: names(model.inputs), outputs: names(model.outputs) };
}

export class Engine {
  constructor(tf, model, info, readInput) {
    this.tf = tf;
    this.model = model;
    this.info = { ...info, ...modelSignature(model) };
    this.readInput = readInput;
    this.tensors = new Map();
    this.nextTensor = 1;
  }

  async handle(msg) {
    try {
      return { id: msg.id, ok: true, ...(await this.dispatch(msg)) };
    } catch (err) {
      return { id: msg.id, ok: false, error: String(err && err.message ? err.message : err) };
    }
  }

  async dispatch(msg) {
    switch (msg.op) {
      case 'info': return { info: this.info };
      case 'predict': return this.predict(await this.inputTensor(msg));
      case 'prepare': return { tensor: this.keep(await this.inputTensor(msg)) };
      case 'invoke': return this.predict(this.kept(msg.tensor), false);
      case 'time': return { latencies_ms: await this.time(this.kept(msg.tensor), msg) };
      default: throw new Error(`unknown op ${JSON.stringify(msg.op)}`);
    }
  }

  async inputTensor(msg) {
    const bytes = await this.readInput(msg.input);
    const count = msg.shape.reduce((a, b) => a * b, 1);
    if (bytes.byteLength !== count * 4) {
      throw new Error(`input has ${bytes.byteLength} bytes, shape ${JSON.stringify(msg.shape)} needs ${count * 4}`);
    }
    return this.tf.tensor(new Float32Array(bytes), msg.shape, 'float32');
  }

  keep(tensor) {
    const id = `t${this.nextTensor++}`;
    this.tensors.set(id, tensor);
    return id;
  }

  kept(id) {
    const tensor = this.tensors.get(id);
    if (!tensor) throw new Error(`no prepared tensor ${JSON.stringify(id)}`);
    return tensor;
  }

  // One sample at a time: edgekit exports batch-1 models, so [N, ...] becomes N runs.
  async predict(batch, dispose = true) {
    const outputs = [];
    let shape = null;
    for (let i = 0; i < batch.shape[0]; i++) {
      const sample = this.tf.slice(batch, i, 1);
      const out = this.run(sample);
      outputs.push(await out.data());
      shape = out.shape;
      out.dispose();
      sample.dispose();
    }
    if (dispose) batch.dispose();
    return { output: toBase64(concatFloat32(outputs)), shape: [batch.shape[0], ...shape.slice(1)] };
  }

  // One cold inference on zeros right after loading: it proves the model runs before the caller
  // is told "ready", and its duration lets the caller size its deadlines to the model.
  async firstRun() {
    const shape = this.model.inputs[0].shape.map((d) => (d > 0 ? d : 1));
    const x = this.tf.zeros(shape, 'float32');
    const t0 = performance.now();
    const out = this.run(x);
    await out.data();
    this.info.first_run_ms = performance.now() - t0;
    out.dispose();
    x.dispose();
  }

  run(input) {
    const inputName = this.info.inputs[0];
    return this.model.execute({ [inputName]: input }, this.info.outputs[0]);
  }

  // Latency of each invoke, measured here so no process or IPC hop is included; awaiting
  // data() makes sure the backend has really finished the work.
  async time(input, { warmup = 0, min_runs = 1, min_time_s = 0, max_runs = 100000 }) {
    for (let i = 0; i < warmup; i++) {
      const out = this.run(input);
      await out.data();
      out.dispose();
    }
    const latencies = [];
    const start = performance.now();
    const more = () => latencies.length < min_runs || performance.now() - start < min_time_s * 1000;
    while (latencies.length < max_runs && more()) {
      const t0 = performance.now();
      const out = this.run(input);
      await out.data();
      latencies.push(performance.now() - t0);
      out.dispose();
    }
    return latencies;
  }
}

function concatFloat32(parts) {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Float32Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function toBase64(floats) {
  const bytes = new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength);
  if (typeof Buffer !== 'undefined') return Buffer.from(bytes).toString('base64');
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
