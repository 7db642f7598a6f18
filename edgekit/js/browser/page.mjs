// The browser side of the tfjs-browser runtime. The page is served by edgekit's loopback server
// (edgekit/runtimes/_tfjs_browser.py) together with the model folder and js/node_modules; it
// loads the model named in its URL, reports "ready", then long-polls the server for commands
// and posts each reply back. Commands and replies are those of ../lib/engine.mjs.
//
// URL parameters: model (URL of model.json), backend (wasm|cpu), threads (0 = tfjs default),
// token (echoed on every control request so only this page can drive the session).

import { Engine, backendInfo, initBackend } from '../lib/engine.mjs';

const params = new URLSearchParams(location.search);
const token = params.get('token') ?? '';
const status = document.getElementById('status');

function control(path) {
  return `/control/${path}?token=${encodeURIComponent(token)}`;
}

async function post(path, obj) {
  const body = JSON.stringify(obj);
  const response = await fetch(control(path), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (!response.ok) throw new Error(`POST ${path}: HTTP ${response.status}`);
}

async function readInput(ref) {
  const response = await fetch(control(`tensor/${encodeURIComponent(ref)}`));
  if (!response.ok) throw new Error(`input ${ref}: HTTP ${response.status}`);
  return response.arrayBuffer();
}

async function start() {
  const tf = globalThis.tf;
  const wasmDir = new URL('../node_modules/@tensorflow/tfjs-backend-wasm/dist/', location.href).href;
  const threads = Number.parseInt(params.get('threads') ?? '0', 10);
  await initBackend(tf, { backend: params.get('backend') ?? 'wasm', threads, wasmDir });
  const model = await tf.loadGraphModel(params.get('model'));
  const info = await backendInfo(tf, navigator.userAgent);
  info.hardware_concurrency = navigator.hardwareConcurrency;
  const engine = new Engine(tf, model, info, readInput);
  await engine.firstRun();
  return engine;
}

// 204 means "nothing yet, ask again"; any other failure means the session is over.
async function serve(engine) {
  for (;;) {
    const response = await fetch(control('next'));
    if (response.status === 204) continue;
    if (!response.ok) return;
    const msg = await response.json();
    if (msg.op === 'close') {
      await post('reply', { id: msg.id, ok: true });
      return;
    }
    await post('reply', await engine.handle(msg));
  }
}

async function main() {
  let engine;
  try {
    engine = await start();
  } catch (err) {
    status.textContent = `failed: ${err && err.message ? err.message : err}`;
    await post('reply', { id: 0, op: 'ready', ok: false, error: String(err && err.message ? err.message : err) });
    return;
  }
  status.textContent = `ready: ${JSON.stringify(engine.info)}`;
  await post('reply', { id: 0, op: 'ready', ok: true, info: engine.info });
  await serve(engine);
  status.textContent = 'closed';
}

// Anything that escapes ends up in the server's log, which edgekit shows when a request fails.
window.addEventListener('error', (e) => post('log', { error: String(e.message) }).catch(() => {}));
window.addEventListener('unhandledrejection', (e) => post('log', { error: String(e.reason) }).catch(() => {}));

main().catch((err) => post('log', { error: String(err) }).catch(() => {}));
