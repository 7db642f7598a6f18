#!/usr/bin/env node
// Run an edgekit TF.js graph model in Node with the wasm (default) or cpu backend.
//
//   node js/runner.mjs MODEL_DIR [--backend wasm|cpu] [--threads N]
//       one prediction on a zero input; prints {info, output} as JSON (a smoke check)
//   node js/runner.mjs MODEL_DIR --serve [--backend wasm|cpu] [--threads N]
//       line-delimited JSON on stdin/stdout, the protocol in lib/engine.mjs; the first line out
//       is {id: 0, op: "ready", ok, info | error}. Exits when stdin closes, so a runner whose
//       parent died does not linger.
//
// stdout carries the protocol only: everything tfjs logs goes to stderr.

import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { Engine, backendInfo, initBackend } from './lib/engine.mjs';

const require = createRequire(import.meta.url);

// tfjs-core greets Node users on console.log; keep stdout clean for the protocol.
console.log = console.info = console.warn = (...args) => console.error(...args);

function parseArgs(argv) {
  const opts = { backend: 'wasm', threads: 0, serve: false, model: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--serve') opts.serve = true;
    else if (arg === '--backend') opts.backend = argv[++i];
    else if (arg === '--threads') opts.threads = Number.parseInt(argv[++i], 10);
    else if (!arg.startsWith('--') && opts.model === null) opts.model = arg;
    else throw new Error(`unexpected argument ${JSON.stringify(arg)}`);
  }
  if (!opts.model) throw new Error('usage: node runner.mjs MODEL_DIR|model.json [--serve] [--backend wasm|cpu] [--threads N]');
  if (!Number.isInteger(opts.threads) || opts.threads < 0) throw new Error('--threads needs an integer >= 0');
  opts.model = path.resolve(opts.model.endsWith('.json') ? opts.model : path.join(opts.model, 'model.json'));
  return opts;
}

function loadTf() {
  const tf = { ...require('@tensorflow/tfjs-core') };
  require('@tensorflow/tfjs-backend-cpu');
  Object.assign(tf, require('@tensorflow/tfjs-converter'));
  tf.wasm = require('@tensorflow/tfjs-backend-wasm');
  return tf;
}

// A directory IO handler: tfjs-core ships http and browser handlers but none for plain files.
function fileHandler(tf, modelJsonPath) {
  const dir = path.dirname(modelJsonPath);
  const loadWeights = async (manifest) => {
    const specs = manifest.flatMap((group) => group.weights);
    const files = manifest.flatMap((group) => group.paths).map((p) => {
      const full = path.resolve(dir, p);
      if (path.dirname(full) !== dir) throw new Error(`weight file ${JSON.stringify(p)} is outside ${dir}`);
      return readFile(full);
    });
    const buffers = await Promise.all(files);
    const data = new Uint8Array(buffers.reduce((n, b) => n + b.length, 0));
    let offset = 0;
    for (const b of buffers) {
      data.set(b, offset);
      offset += b.length;
    }
    return [specs, data.buffer];
  };
  return {
    load: async () => {
      const modelJSON = JSON.parse(await readFile(modelJsonPath, 'utf8'));
      if (!modelJSON.modelTopology) throw new Error(`${modelJsonPath} has no modelTopology: not a TF.js model`);
      return tf.io.getModelArtifactsForJSON(modelJSON, loadWeights);
    },
  };
}

async function readInput(file) {
  const buf = await readFile(file);
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

async function start(opts) {
  const tf = loadTf();
  const wasmDir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), path.sep);
  await initBackend(tf, { backend: opts.backend, threads: opts.threads, wasmDir });
  const model = await tf.loadGraphModel(fileHandler(tf, opts.model));
  const info = await backendInfo(tf, `node ${process.version}`);
  info.node = process.version;
  const engine = new Engine(tf, model, info, readInput);
  await engine.firstRun();
  return engine;
}

function send(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

async function serve(engine) {
  const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let msg;
    try {
      msg = JSON.parse(line);
    } catch (err) {
      send({ id: null, ok: false, error: `not JSON: ${err.message}` });
      continue;
    }
    if (msg.op === 'close') {
      send({ id: msg.id, ok: true });
      break;
    }
    send(await engine.handle(msg));
  }
}

async function smoke(engine) {
  const shape = engine.model.inputs[0].shape.map((d) => (d > 0 ? d : 1));
  const out = engine.run(engine.tf.zeros(shape, 'float32'));
  const result = { info: engine.info, output_shape: out.shape, output: Array.from(await out.data()) };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

async function main() {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(err.message);
    process.exit(2);
  }
  let engine;
  try {
    engine = await start(opts);
  } catch (err) {
    if (opts.serve) send({ id: 0, op: 'ready', ok: false, error: String(err && err.message ? err.message : err) });
    else console.error(err);
    process.exit(1);
  }
  if (!opts.serve) return smoke(engine);
  send({ id: 0, op: 'ready', ok: true, info: engine.info });
  await serve(engine);
  process.exit(0);
}

main();
