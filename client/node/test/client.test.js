'use strict';
// The Node client against the real server (ACTSERVE_SERVER, set by CTest).

const assert = require('node:assert/strict');
const {spawn, execFile} = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');
const {after, before, test} = require('node:test');
const {ActservError, Client, status} = require('..');

let server;
let target;
let client;
let catalog;

function startServer() {
  const binary = process.env.ACTSERVE_SERVER;
  assert.ok(binary, 'set ACTSERVE_SERVER to the actserve server binary');
  // Port 0: the server picks a free port and prints it on its first line.
  const child = spawn(binary, ['--listen=127.0.0.1:0'],
                      {stdio: ['ignore', 'pipe', 'ignore']});
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error('the server did not start in 30 s'));
    }, 30000);
    child.on('exit', (code) => reject(new Error(`the server exited: ${code}`)));
    readline.createInterface({input: child.stdout}).once('line', (line) => {
      clearTimeout(timer);
      const match = /^actserve listening on (\S+)/.exec(line);
      if (match) resolve({child, address: match[1]});
      else reject(new Error(`unexpected first line: ${line}`));
    });
  });
}

before(async () => {
  ({child: server, address: target} = await startServer());
  client = new Client(target);
  catalog = new Map((await client.listActivations()).map((a) => [a.name, a]));
});

after(() => {
  client.close();
  server.removeAllListeners('exit');
  server.kill('SIGTERM');
});

const sigmoid = (x) => x >= 0 ? 1 / (1 + Math.exp(-x)) :
                                Math.exp(x) / (1 + Math.exp(x));

function grid(count, lo = -8, hi = 8, Type = Float64Array) {
  return Type.from({length: count}, (_, i) => lo + (hi - lo) * i / (count - 1));
}

function assertClose(actual, expected, rtol, atol = 0) {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    const tolerance = atol + rtol * Math.abs(expected[i]);
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance,
              `element ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

test('the catalog lists activations with formulas', () => {
  assert.ok(catalog.has('sigmoid'));
  for (const info of catalog.values()) {
    assert.ok(info.formula.length > 0, info.name);
    assert.ok(info.modes.includes('MODE_FORWARD'), info.name);
  }
});

test('float64 sigmoid forward, derivative and backward', async () => {
  const x = grid(1001);
  const s = x.map(sigmoid);
  const y = await client.evaluate('sigmoid', x);
  assert.ok(y.data instanceof Float64Array);
  assert.deepEqual(y.shape, [1001]);
  assertClose(y.data, s, 1e-12, 1e-300);
  const d = await client.evaluate('sigmoid', x, {mode: 'derivative'});
  assertClose(d.data, s.map((v) => v * (1 - v)), 1e-12, 1e-300);
  const g = grid(1001, -1, 1);
  const b = await client.evaluate('sigmoid', x, {mode: 'backward',
                                                 gradOutput: g});
  assertClose(b.data, s.map((v, i) => g[i] * v * (1 - v)), 1e-12, 1e-300);
  assert.deepEqual(b.paramGrads, {});
});

test('float32 keeps its type and shape', async () => {
  const x = grid(24, -3, 3, Float32Array);
  const y = await client.evaluate('relu', x, {shape: [2, 3, 4]});
  assert.ok(y.data instanceof Float32Array);
  assert.deepEqual(y.shape, [2, 3, 4]);
  assert.deepEqual(Array.from(y.data), Array.from(x).map((v) => Math.max(v, 0)));
});

test('bfloat16 travels as Uint16Array bit patterns', async () => {
  const values = Float32Array.from([-2, -0.5, 0.75, 3]);
  const bits = Uint16Array.from(new Uint32Array(values.buffer), (b) => b >>> 16);
  const y = await client.evaluate('relu', bits, {dtype: 'bfloat16'});
  assert.ok(y.data instanceof Uint16Array);
  const widened = new Float32Array(Uint32Array.from(y.data, (b) => b << 16).buffer);
  assert.deepEqual(Array.from(widened), [0, 0, 0.75, 3]);
  await assert.rejects(client.evaluate('relu', bits), TypeError);
});

test('a large array goes over EvaluateStream', async () => {
  // A client whose messages may not exceed 4 MiB can only succeed with a
  // 12 MB array by streaming it; forcing Evaluate must fail.
  const small = new Client(target, {maxMessageBytes: 4 << 20});
  try {
    const x = grid(3_000_000, -6, 6, Float32Array);
    const y = await small.evaluate('sigmoid', x);
    assert.equal(y.data.length, x.length);
    for (const i of [0, 1, 1_499_999, 2_999_999]) {
      assertClose([y.data[i]], [sigmoid(x[i])], 2e-6);
    }
    small.streamThresholdBytes = Infinity;
    await assert.rejects(small.evaluate('sigmoid', x),
                         (e) => e.code === status.RESOURCE_EXHAUSTED);
  } finally {
    small.close();
  }
});

test('streamed and unary backward agree, with small chunks', async () => {
  const c = new Client(target, {chunkBytes: 4096});
  try {
    const x = grid(30001);
    const g = grid(30001, -1, 1);
    const unary = await c.evaluate('sigmoid', x, {mode: 'backward',
                                                  gradOutput: g});
    c.streamThresholdBytes = -1;
    const streamed = await c.evaluate('sigmoid', x, {mode: 'backward',
                                                     gradOutput: g});
    assert.deepEqual(streamed.data, unary.data);
  } finally {
    c.close();
  }
});

test('prelu returns per-channel slope gradients', async (t) => {
  if (!catalog.has('prelu')) return t.skip('the server has no prelu yet');
  const x = Float64Array.from([-2, 1, -1, -3]);  // shape [2, 2], channels axis 1
  const g = Float64Array.from([1, 1, 0.5, 2]);
  const r = await client.evaluate('prelu', x, {
    shape: [2, 2], mode: 'backward', gradOutput: g,
    params: {channelAlpha: [0.1, 0.2]},
  });
  assertClose(r.data, [0.1, 1, 0.05, 0.4], 1e-15);
  assert.deepEqual(r.paramGrads.alpha.shape, [2]);
  assertClose(r.paramGrads.alpha.data, [-2 - 0.5, -6], 1e-15);
});

test('server errors reject with ActservError', async () => {
  await assert.rejects(client.evaluate('no_such_fn', grid(3)), (e) => {
    assert.ok(e instanceof ActservError);
    assert.equal(e.code, status.INVALID_ARGUMENT);
    assert.equal(e.codeName, 'INVALID_ARGUMENT');
    assert.match(e.details, /no_such_fn/);
    return true;
  });
  await assert.rejects(
      client.evaluate('relu', grid(3), {params: {alpha: 1}}),
      (e) => e.code === status.INVALID_ARGUMENT && /alpha/.test(e.details));
});

test('bad arguments are refused before any call', async () => {
  await assert.rejects(client.evaluate('relu', [1, 2]), TypeError);
  await assert.rejects(client.evaluate('relu', grid(3), {shape: [2]}),
                       RangeError);
  await assert.rejects(client.evaluate('relu', grid(3), {mode: 'backward'}),
                       TypeError);
  await assert.rejects(
      client.evaluate('relu', grid(3), {params: {gamma: 1}}), TypeError);
});

test('the bidi example streams two tensors', async () => {
  const script = path.join(__dirname, '..', 'examples', 'bidi_stream.js');
  const stdout = await new Promise((resolve, reject) => {
    execFile(process.execPath, [script, `--target=${target}`],
             (error, out) => error ? reject(error) : resolve(out));
  });
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^tensor 0 \(sigmoid\): 10000 elements in \d+ chunks/);
  assert.match(lines[0], /first values 0\.002473 /);  // sigmoid(-6)
  assert.match(lines[1], /^tensor 1 \(relu\): 2500 elements/);
});

test('time grows linearly with the array (64 MiB within 6x of 16 MiB)',
     async () => {
  // A quadratic client (one that re-copies the whole array per chunk) takes
  // 16x as long for 4x the data; a linear one about 4x. Each size is timed
  // three times, interleaved, and the fastest kept: noise only adds time.
  const arrays = [4 << 20, 16 << 20].map((n) => grid(n, -6, 6, Float32Array));
  const best = [Infinity, Infinity];
  for (let round = 0; round < 3; round++) {
    for (const [i, x] of arrays.entries()) {
      const start = process.hrtime.bigint();
      const y = await client.evaluate('sigmoid', x);
      best[i] = Math.min(best[i], Number(process.hrtime.bigint() - start));
      assert.equal(y.data.length, x.length);
    }
  }
  assert.ok(best[1] <= 6 * best[0],
            `64 MiB took ${best[1] / 1e6} ms, 16 MiB ${best[0] / 1e6} ms`);
});
