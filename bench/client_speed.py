#!/usr/bin/python3
"""Every client against `actserve-client bench`, on one server, in one run.

Starts build/server/actserve on a free port, writes one float32 array to a
.npy file, and times one EvaluateStream call of it per client and round,
the clients interleaved so that a noisy machine slows them all alike:

  bench   actserve-client bench --calls=1 (the C++ transfer loop alone)
  eval    actserve-client eval, file to file, the whole process
  python  actserve.Client.evaluate on the array (client/python)
  node    Client.evaluate on the array (client/node; needs npm ci there)

Prints each client's median time and its throughput as a fraction of the
bench's; targets are >= 0.8 for every one.

    bench/client_speed.py [--build=build] [--mib=256] [--rounds=5]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PYTHON_CALL = """
import sys, time
import numpy as np
from actserve import Client
x = np.load(sys.argv[2])
with Client(sys.argv[1], timeout=600) as client:
    start = time.perf_counter()
    y = client.evaluate(sys.argv[3], x)
    print(time.perf_counter() - start)
assert y.shape == x.shape
"""

NODE_CALL = """
const fs = require('node:fs');
const {Client} = require('.');
const [target, path, fn] = process.argv.slice(1);
// A version 1.0 .npy file: its header length is the uint16 at byte 8.
const file = fs.readFileSync(path);
const start = 10 + file.readUInt16LE(8);
const x = new Float32Array((file.length - start) / 4);
Buffer.from(x.buffer).set(file.subarray(start));
const client = new Client(target, {timeoutMs: 600000});
const t = process.hrtime.bigint();
client.evaluate(fn, x).then((y) => {
  console.log(Number(process.hrtime.bigint() - t) / 1e9);
  if (y.data.length !== x.length) throw new Error('wrong length');
  client.close();
});
"""


def start_server(binary):
    process = subprocess.Popen([binary, "--listen=127.0.0.1:0"],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    line = process.stdout.readline()
    prefix = "actserve listening on "
    if not line.startswith(prefix):
        process.kill()
        sys.exit(f"the server did not start: {line!r}")
    return process, line[len(prefix):].strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--mib", type=int, default=256,
                        help="array size in MiB (float32)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--fn", default="sigmoid")
    args = parser.parse_args()
    cli = os.path.join(args.build, "client", "actserve-client")
    elements = args.mib << 18

    server, target = start_server(os.path.join(args.build, "server",
                                               "actserve"))
    node_dir = os.path.join(ROOT, "client", "node")
    has_node = os.path.isdir(os.path.join(node_dir, "node_modules"))
    with tempfile.TemporaryDirectory() as tmp:
        x_path, y_path = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
        rng = np.random.default_rng(0)
        np.save(x_path, rng.uniform(-6, 6, elements).astype(np.float32))

        def bench():
            report = json.loads(subprocess.check_output(
                [cli, "bench", f"--target={target}", f"--fn={args.fn}",
                 f"--shape={elements}", "--concurrency=1", "--calls=1",
                 "--streaming", "--json", "--deadline=600s"]))
            assert report["ok"] == 1, report
            return report["latency_ms"]["max"] / 1e3

        def eval_file_to_file():
            start = time.perf_counter()
            subprocess.check_call(
                [cli, "eval", f"--target={target}", f"--fn={args.fn}",
                 f"--in={x_path}", f"--out={y_path}", "--quiet",
                 "--deadline=600s"])
            return time.perf_counter() - start

        def python():
            env = dict(os.environ,
                       PYTHONPATH=os.path.join(ROOT, "client", "python"))
            return float(subprocess.check_output(
                ["/usr/bin/python3", "-c", PYTHON_CALL, target, x_path,
                 args.fn], env=env))

        def node():
            return float(subprocess.check_output(
                ["node", "-e", NODE_CALL, target, x_path, args.fn],
                cwd=node_dir))

        clients = {"actserve-client bench": bench,
                   "actserve-client eval": eval_file_to_file,
                   "python": python}
        if has_node:
            clients["node"] = node
        else:
            print("node: skipped (run `npm ci` in client/node first)")
        times = {name: [] for name in clients}
        try:
            for _ in range(args.rounds):
                for name, run in clients.items():
                    times[name].append(run())
        finally:
            server.terminate()
            server.wait()

    print(f"{args.mib} MiB float32 {args.fn} through EvaluateStream, "
          f"{args.rounds} rounds interleaved, median seconds per call:")
    base = statistics.median(times["actserve-client bench"])
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"  {name:22} {median:7.3f} s  {args.mib / median:7.1f} MiB/s"
              f"  {base / median:5.2f}x bench   (all: "
              f"{', '.join(f'{t:.2f}' for t in samples)})")


if __name__ == "__main__":
    main()
