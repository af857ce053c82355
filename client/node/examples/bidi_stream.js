#!/usr/bin/env node
'use strict';
// Drives EvaluateStream by hand: two tensors, one after the other on the
// same bidirectional stream, each sent as a header and then data chunks,
// while results come back chunk by chunk as the server computes them.
//
//   node examples/bidi_stream.js [--target=127.0.0.1:50051]

const {Client} = require('..');

const target = (process.argv.find((a) => a.startsWith('--target=')) ||
                '--target=127.0.0.1:50051').slice('--target='.length);
const CHUNK_ELEMENTS = 4096;

// Tensor i: `count` float32 values from -6 to 6 through activation `name`.
const tensors = [
  {name: 'sigmoid', count: 10000},
  {name: 'relu', count: 2500},
];

async function main() {
  const client = new Client(target);
  const call = client.stub.evaluateStream({deadline: Date.now() + 30000});
  const received = tensors.map(() => ({chunks: 0, elements: 0, first: []}));

  const finished = new Promise((resolve, reject) => {
    call.on('data', (response) => {
      if (response.payload === 'chunk') {
        const chunk = response.chunk;
        const r = received[chunk.inputIndex];
        // Copy: the bytes may be unaligned within the received buffer.
        const values = new Float32Array(
            chunk.data.buffer.slice(chunk.data.byteOffset,
                                    chunk.data.byteOffset + chunk.data.length));
        if (chunk.elementOffset === 0) r.first = Array.from(values.slice(0, 3));
        r.chunks += 1;
        r.elements += values.length;
      } else if (response.payload === 'done') {
        const done = response.done;
        const r = received[done.tensorIndex];
        console.log(`tensor ${done.tensorIndex} (${tensors[done.tensorIndex].name}): ` +
                    `${r.elements} elements in ${r.chunks} chunks, ` +
                    `${done.computeMicros} us of compute, ` +
                    `first values ${r.first.map((v) => v.toFixed(6)).join(' ')}`);
      }
    });
    call.on('error', reject);
    call.on('end', resolve);
  });

  // These tensors are small, so the writes need not wait for 'drain';
  // Client.writeStream in index.js does, for tensors of any size.
  for (const {name, count} of tensors) {
    const x = Float32Array.from({length: count},
                                (_, i) => -6 + 12 * i / (count - 1));
    call.write({header: {activation: {name}, mode: 'MODE_FORWARD',
                         shape: [count], dtype: 'DTYPE_FLOAT32'}});
    for (let begin = 0; begin < count; begin += CHUNK_ELEMENTS) {
      const piece = x.subarray(begin, begin + CHUNK_ELEMENTS);
      call.write({data: {xOffset: begin,
                         x: Buffer.from(piece.buffer, piece.byteOffset,
                                        piece.byteLength)}});
    }
  }
  call.end();
  await finished;
  client.close();
}

main().catch((error) => {
  console.error(`bidi_stream: ${error.message}`);
  process.exit(1);
});
