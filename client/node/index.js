'use strict';
// Node.js client of the actserve ActivationService: typed arrays in, typed
// arrays out. The proto is loaded at run time from the repository's proto/
// folder, so there is no generated code to keep in step.

const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_ROOT = path.join(__dirname, '..', '..', 'proto');
const definition = protoLoader.loadSync('actserve/v1/actserve.proto', {
  includeDirs: [PROTO_ROOT],
  longs: Number, // shapes and offsets stay far below 2^53
  enums: String,
  defaults: true,
  oneofs: true,
});
const v1 = grpc.loadPackageDefinition(definition).actserve.v1;

// Servers accept 4 MiB messages unless configured otherwise; requests with
// more tensor bytes than this go over EvaluateStream.
const DEFAULT_UNARY_LIMIT = 4 << 20;
const MARGIN = 64 << 10;
// HTTP/2 flow-control window of each connection (see the constructor).
const RECEIVE_WINDOW_BYTES = 4 << 20;

const ARRAY_TYPES = {
  DTYPE_FLOAT32: Float32Array,
  DTYPE_FLOAT64: Float64Array,
  // Half types travel as their bit patterns: Node has no Float16Array.
  DTYPE_FLOAT16: Uint16Array,
  DTYPE_BFLOAT16: Uint16Array,
};
const MODES = {
  forward: 'MODE_FORWARD',
  derivative: 'MODE_DERIVATIVE',
  backward: 'MODE_BACKWARD',
};

/** A failed call: `code` is the numeric gRPC status, `codeName` its name. */
class ActservError extends Error {
  constructor(code, details) {
    const codeName = Object.keys(grpc.status).find(
        (name) => grpc.status[name] === code) || String(code);
    super(`${codeName}: ${details}`);
    this.name = 'ActservError';
    this.code = code;
    this.codeName = codeName;
    this.details = details;
  }
}

function fromGrpcError(error) {
  return error.code === undefined ? error :
                                    new ActservError(error.code, error.details);
}

/** The proto DType of `array`; `halfType` picks between the two 16-bit types. */
function dtypeOf(array, halfType) {
  if (array instanceof Float32Array) return 'DTYPE_FLOAT32';
  if (array instanceof Float64Array) return 'DTYPE_FLOAT64';
  if (array instanceof Uint16Array) {
    if (halfType === 'float16') return 'DTYPE_FLOAT16';
    if (halfType === 'bfloat16') return 'DTYPE_BFLOAT16';
    throw new TypeError(
        'a Uint16Array needs dtype: "float16" or "bfloat16" (its bit patterns)');
  }
  throw new TypeError('expected a Float32Array, Float64Array or Uint16Array');
}

function tensor(array, shape, halfType) {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== array.length) {
    throw new RangeError(
        `shape [${shape}] holds ${count} elements, the array ${array.length}`);
  }
  return {
    shape,
    dtype: dtypeOf(array, halfType),
    // A view, not a copy: the bytes go out as they are (little-endian on
    // every platform Node runs on).
    data: Buffer.from(array.buffer, array.byteOffset, array.byteLength),
  };
}

function spec(name, params) {
  const out = {name};
  for (const [key, value] of Object.entries(params || {})) {
    if (key === 'channelAlpha' || key === 'channel_alpha') {
      const slopes = Float64Array.from(value);
      out.channelAlpha = tensor(slopes, [slopes.length]);
    } else if (['alpha', 'beta', 'min', 'max', 'threshold', 'axis',
                'pieces'].includes(key)) {
      out[key] = value;
    } else {
      throw new TypeError(`unknown activation parameter "${key}"`);
    }
  }
  return out;
}

/** A received tensor as {data: TypedArray, shape: number[]}. */
function fromTensor(message) {
  const Type = ARRAY_TYPES[message.dtype];
  // Received bytes may sit at any offset of a pooled buffer; typed arrays
  // need aligned storage, so copy into a fresh one.
  const data = new Type(message.data.length / Type.BYTES_PER_ELEMENT);
  Buffer.from(data.buffer).set(message.data);
  return {data, shape: message.shape};
}

/** Rebuilds one output from the OutputChunks the server streams back. */
class OutputAssembler {
  constructor() {
    this.output = null;
    this.bytes = null;
    this.received = 0;
  }

  add(chunk) {
    if (chunk.header) {
      if (this.output) throw new ActservError(grpc.status.INTERNAL,
                                              'a second output header');
      const Type = ARRAY_TYPES[chunk.header.dtype];
      const count = chunk.header.shape.reduce((a, b) => a * b, 1);
      this.output = {data: new Type(count), shape: chunk.header.shape};
      this.bytes = Buffer.from(this.output.data.buffer);
    } else if (!this.output) {
      throw new ActservError(grpc.status.INTERNAL, 'data before its header');
    }
    const start = chunk.elementOffset * this.output.data.BYTES_PER_ELEMENT;
    if (start < 0 || start + chunk.data.length > this.bytes.length) {
      throw new ActservError(grpc.status.INTERNAL, 'a chunk out of bounds');
    }
    this.bytes.set(chunk.data, start);
    this.received += chunk.data.length;
  }

  result() {
    if (!this.output || this.received !== this.bytes.length) {
      throw new ActservError(grpc.status.INTERNAL,
                             'the server\'s output is incomplete');
    }
    return this.output;
  }
}

/** Writes `message`, waiting while the stream's buffer is full. */
function write(call, message) {
  if (call.write(message)) return Promise.resolve();
  return new Promise((resolve) => call.once('drain', resolve));
}

class Client {
  /**
   * @param {string} target gRPC target: "host:port", "unix:/path", ...
   * @param {object} [options]
   * @param {grpc.ChannelCredentials} [options.credentials] default plaintext
   * @param {number} [options.timeoutMs] per call (60000)
   * @param {number} [options.maxMessageBytes] largest message (64 MiB)
   * @param {number} [options.chunkBytes] per streamed message and response
   *     chunk (1 MiB)
   */
  constructor(target = '127.0.0.1:50051', options = {}) {
    const maxMessageBytes = options.maxMessageBytes ?? 64 << 20;
    const serviceConfig = {
      methodConfig: [{
        name: [{service: 'actserve.v1.ActivationService'}],
        retryPolicy: {
          maxAttempts: 4,
          initialBackoff: '0.1s',
          maxBackoff: '2s',
          backoffMultiplier: 2,
          retryableStatusCodes: ['UNAVAILABLE'],
        },
      }],
    };
    this.stub = new v1.ActivationService(
        target, options.credentials ?? grpc.credentials.createInsecure(), {
          'grpc.max_send_message_length': maxMessageBytes,
          'grpc.max_receive_message_length': maxMessageBytes,
          'grpc.service_config': JSON.stringify(serviceConfig),
          // HTTP/2's default 64 KiB receive window needs a window update
          // every 64 KiB, each a trip through the event loop: a streamed
          // 256 MiB result took 1.3 to 1.9 s instead of 1.0 s.
          'grpc-node.flow_control_window': RECEIVE_WINDOW_BYTES,
        });
    this.timeoutMs = options.timeoutMs ?? 60000;
    this.chunkBytes = options.chunkBytes ?? 1 << 20;
    this.streamThresholdBytes =
        Math.min(maxMessageBytes, DEFAULT_UNARY_LIMIT) - MARGIN;
  }

  close() {
    this.stub.close();
  }

  deadline() {
    return {deadline: Date.now() + this.timeoutMs};
  }

  /** The catalog: ActivationInfo objects (camelCase fields). */
  listActivations() {
    return new Promise((resolve, reject) => {
      this.stub.listActivations({}, this.deadline(), (error, response) => {
        if (error) reject(fromGrpcError(error));
        else resolve(response.activations);
      });
    });
  }

  /**
   * Evaluates activation `name` on `x`.
   * @param {string} name e.g. "gelu"
   * @param {Float32Array|Float64Array|Uint16Array} x
   * @param {object} [options]
   * @param {number[]} [options.shape] default [x.length]
   * @param {string} [options.mode] forward | derivative | backward
   * @param {Float32Array|Float64Array|Uint16Array} [options.gradOutput]
   *     backward only, shaped like the forward output
   * @param {number[]} [options.gradShape] default options.shape
   * @param {string} [options.dtype] "float16" or "bfloat16" for Uint16Array
   * @param {object} [options.params] alpha, beta, min, max, threshold, axis,
   *     pieces, channelAlpha (array of slopes)
   * @return {Promise<{data, shape, paramGrads?}>} paramGrads (backward):
   *     {name: {data, shape}}
   */
  async evaluate(name, x, options = {}) {
    const mode = MODES[options.mode ?? 'forward'];
    if (!mode) throw new RangeError(`unknown mode "${options.mode}"`);
    const backward = mode === 'MODE_BACKWARD';
    if (backward !== (options.gradOutput !== undefined)) {
      throw new TypeError('gradOutput is required in backward mode and only there');
    }
    const shape = options.shape ?? [x.length];
    const input = tensor(x, shape, options.dtype);
    const grad = backward ? tensor(options.gradOutput,
                                   options.gradShape ?? shape, options.dtype) :
                            null;
    const request = {activation: spec(name, options.params), mode, input, grad};
    const bytes = input.data.length + (grad ? grad.data.length : 0);
    const {output, gradients} = bytes > this.streamThresholdBytes ?
        await this.evaluateStream(request) :
        await this.evaluateUnary(request);
    if (!backward) return output;
    const paramGrads = {};
    for (const g of gradients) paramGrads[g.name] = fromTensor(g.gradient);
    return {...output, paramGrads};
  }

  evaluateUnary({activation, mode, input, grad}) {
    const call = this.stub.evaluate({
      activation,
      mode,
      inputs: [input],
      gradOutputs: grad ? [grad] : [],
      chunkBytes: this.chunkBytes,
    }, this.deadline());
    return this.collect(call, 'parameterGradients',
                        (message) => message.gradients);
  }

  evaluateStream(request) {
    const call = this.stub.evaluateStream(this.deadline());
    const collected = this.collect(call, 'done',
                                   (message) => message.parameterGradients);
    // Writing runs alongside reading: the server answers while it still
    // reads, and would stall on a full window if nobody listened. When the
    // call fails, `collected` says why and the writer is abandoned.
    this.writeStream(call, request).catch(() => call.cancel());
    return collected;
  }

  async writeStream(call, {activation, mode, input, grad}) {
    await write(call, {
      header: {
        activation,
        mode,
        shape: input.shape,
        dtype: input.dtype,
        chunkBytes: this.chunkBytes,
      },
    });
    const item = ARRAY_TYPES[input.dtype].BYTES_PER_ELEMENT;
    const xCount = input.data.length / item;
    const gCount = grad ? grad.data.length / item : 0;
    const step = Math.max(1, Math.floor(this.chunkBytes / item));
    // grad_output is split at the same fraction as x so the server can
    // compute each piece as it arrives; an empty x still sends one message.
    let begin = 0;
    do {
      const end = Math.min(xCount, begin + step);
      const data = {xOffset: begin,
                    x: input.data.subarray(begin * item, end * item)};
      if (grad) {
        const gBegin = xCount ? Math.floor(gCount * begin / xCount) : 0;
        const gEnd = xCount ? Math.floor(gCount * end / xCount) : gCount;
        data.gradOffset = gBegin;
        data.gradOutput = grad.data.subarray(gBegin * item, gEnd * item);
      }
      await write(call, {data});
      begin = end;
    } while (begin < xCount);
    call.end();
  }

  /**
   * Resolves with {output, gradients} once `call` ends; `gradientsField` is
   * the response payload carrying parameter gradients.
   */
  collect(call, gradientsField, gradientsOf) {
    return new Promise((resolve, reject) => {
      const assembler = new OutputAssembler();
      const gradients = [];
      let failure = null;
      call.on('data', (response) => {
        if (failure) return;
        try {
          if (response.payload === 'chunk') {
            assembler.add(response.chunk);
          } else if (response.payload === gradientsField) {
            gradients.push(...gradientsOf(response[gradientsField]));
          }
        } catch (error) {
          failure = error;
          call.cancel();
        }
      });
      call.on('error', (error) => reject(failure ?? fromGrpcError(error)));
      call.on('end', () => {
        if (failure) return reject(failure);
        try {
          resolve({output: assembler.result(), gradients});
        } catch (error) {
          reject(error);
        }
      });
    });
  }
}

module.exports = {ActservError, Client, status: grpc.status, v1};
