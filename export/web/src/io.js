// Reading a model's files: fetch for URLs (browser and Node), the file system for paths in
// Node. Every read has a deadline, so a server that never answers gives an error, not a hang.

export const DEFAULT_TIMEOUT_MS = 60000;
// The largest file read (published .gen.json files are 5-20 MB): a server that streams
// forever meets this before it fills the memory.
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

export const isNode = typeof process === 'object' && process !== null &&
    typeof process.versions === 'object' && process.versions !== null &&
    typeof process.versions.node === 'string' && typeof window === 'undefined';

const URL_SCHEME = /^[a-zA-Z][a-zA-Z\d+.-]*:\/\//;

// In Node, a string without a scheme is a file path; in a browser everything is a URL
// (relative ones resolve against the page).
export function isFilePath(source) {
  return isNode && !URL_SCHEME.test(source) && !source.startsWith('data:');
}

// Node's modules by a name in a variable: bundlers for the browser then leave the import
// alone (it only runs in Node) instead of failing to resolve it.
const NODE_FS = 'node:fs/promises';
const NODE_URL = 'node:url';

async function nodeFs() {
  return import(/* webpackIgnore: true */ /* @vite-ignore */ NODE_FS);
}

async function readFile(source, where, maxBytes) {
  let path = source;
  if (source.startsWith('file://')) {
    const {fileURLToPath} = await import(/* webpackIgnore: true */ /* @vite-ignore */ NODE_URL);
    path = fileURLToPath(source);
  }
  const fs = await nodeFs();
  let size;
  try {
    size = (await fs.stat(path)).size;
  } catch (e) {
    throw new Error(`${where}: could not read: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  if (size > maxBytes) throw new Error(`${where}: could not read: ${size} bytes, over the limit of ${maxBytes} (option maxBytes)`);
  try {
    const data = await fs.readFile(path);
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (e) {
    throw new Error(`${where}: could not read: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
}

async function fetchBytes(url, where, timeoutMs, maxBytes) {
  const signal = typeof AbortSignal !== 'undefined' && AbortSignal.timeout ?
      AbortSignal.timeout(timeoutMs) : undefined;
  let response;
  try {
    response = await fetch(url, {signal});
  } catch (e) {
    const why = e && (e.name === 'TimeoutError' || e.name === 'AbortError') ?
        `no answer within ${timeoutMs / 1000} s` : (e && e.cause && e.cause.message) || String(e);
    throw new Error(`${where}: could not fetch: ${why}`);
  }
  if (!response.ok) {
    throw new Error(`${where}: could not fetch: HTTP ${response.status} ${response.statusText}`.trim());
  }
  const declared = Number(response.headers.get('content-length'));
  if (declared > maxBytes) {
    throw new Error(`${where}: could not fetch: ${declared} bytes, over the limit of ${maxBytes} (option maxBytes)`);
  }
  try {
    if (!response.body || !response.body.getReader) return new Uint8Array(await response.arrayBuffer());
    const reader = response.body.getReader(), chunks = [];
    let size = 0;
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxBytes) {
        reader.cancel().catch(() => {});
        throw new Error(`${where}: could not fetch: more than ${maxBytes} bytes (option maxBytes)`);
      }
      chunks.push(value);
    }
    const out = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) { out.set(c, at); at += c.length; }
    return out;
  } catch (e) {
    if (e && /option maxBytes/.test(e.message)) throw e;
    const why = e && (e.name === 'TimeoutError' || e.name === 'AbortError') ?
        `the download did not finish within ${timeoutMs / 1000} s` : String(e);
    throw new Error(`${where}: could not fetch: ${why}`);
  }
}

// The bytes of a file or URL. Node's file:// URLs read the file.
export async function readBytes(source, {timeoutMs = DEFAULT_TIMEOUT_MS, maxBytes = DEFAULT_MAX_BYTES} = {}) {
  if (typeof source !== 'string' || !source) {
    throw new Error(`a model source must be a URL or a file path, not ${JSON.stringify(source)}`);
  }
  if (isFilePath(source) || (isNode && source.startsWith('file://'))) {
    return readFile(source, source, maxBytes);
  }
  return fetchBytes(source, source, timeoutMs, maxBytes);
}

export function parseJson(bytes, where) {
  let text;
  try {
    text = new TextDecoder('utf-8', {fatal: true}).decode(bytes);
  } catch (e) {
    throw new Error(`${where}: not a Sketch-RNN model (not UTF-8 text)`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${where}: not a Sketch-RNN model (not JSON: ${e.message})`);
  }
}

// A path or URL relative to another file's.
export function resolve(relative, base) {
  if (isFilePath(base)) {
    const cut = Math.max(base.lastIndexOf('/'), base.lastIndexOf('\\'));
    return (cut >= 0 ? base.slice(0, cut + 1) : '') + relative;
  }
  const origin = typeof document === 'object' && document && document.baseURI ?
      document.baseURI : (typeof location === 'object' && location ? location.href : undefined);
  return new URL(relative, new URL(base, origin)).href;
}
