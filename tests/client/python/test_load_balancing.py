"""Client-side load balancing: three real servers behind one ipv4: target.

Who served what is read from the servers themselves, from the
actserve_calls_total counters of their Prometheus endpoints, never from the
client's own account.
"""

import json
import re
import subprocess
import urllib.request
from dataclasses import dataclass

import numpy as np
import pytest

from actserve import Client
from conftest import start_server, stop_server

_METRICS_PREFIX = "actserve metrics on "
_CALLS = re.compile(r"^actserve_calls_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$")


def metrics_url(process):
    """The URL on the banner line that follows the first (start_server read
    that one)."""
    for line in process.stdout:
        if line.startswith(_METRICS_PREFIX):
            return line[len(_METRICS_PREFIX):].strip()
    raise RuntimeError("the server printed no metrics line")


@dataclass
class Replica:
    process: subprocess.Popen
    address: str
    metrics_url: str

    def ok_calls(self, method):
        """Calls of `method` this server finished with OK, by its metrics."""
        with urllib.request.urlopen(self.metrics_url, timeout=30) as response:
            text = response.read().decode()
        total = 0.0
        for line in text.splitlines():
            match = _CALLS.match(line)
            if match and f'method="{method}"' in match["labels"] \
                    and 'code="OK"' in match["labels"]:
                total += float(match["value"])
        return int(total)


@pytest.fixture()
def replicas(server_binary):
    processes = []
    replicas = []
    try:
        for _ in range(3):
            process, address = start_server(server_binary,
                                             "--metrics_listen=127.0.0.1:0")
            processes.append(process)
            replicas.append(Replica(process, address, metrics_url(process)))
        yield replicas
    finally:
        # All at once: each takes a second or two to stop its metrics server.
        for process in processes:
            process.terminate()
        for process in processes:
            stop_server(process)


def target_of(replicas):
    return "ipv4:" + ",".join(r.address for r in replicas)


def test_python_client_spreads_calls_and_survives_a_killed_replica(replicas):
    x = np.linspace(-4, 4, 256, dtype=np.float32)
    want = np.maximum(x, 0)
    with Client(target_of(replicas), timeout=60) as client:
        for _ in range(300):
            np.testing.assert_array_equal(client.evaluate("relu", x), want)
        served = [r.ok_calls("Evaluate") for r in replicas]
        assert sum(served) == 300
        # round_robin gives each ~100 once all three are connected; the first
        # calls may all go to whichever connected first.
        assert min(served) >= 50, served

        # Between calls, so that no call is cut off mid-response (those
        # cannot be retried: part of the answer has arrived).
        dead, survivors = replicas[0], replicas[1:]
        dead.process.kill()
        dead.process.wait()
        before = [r.ok_calls("Evaluate") for r in survivors]
        for _ in range(200):
            np.testing.assert_array_equal(client.evaluate("relu", x), want)
        after = [r.ok_calls("Evaluate") for r in survivors]
    gained = [a - b for a, b in zip(after, before)]
    assert sum(gained) == 200, gained
    assert min(gained) > 0, gained


def test_cli_spreads_calls_over_every_replica(replicas, cli):
    result = subprocess.run(
        [cli, "bench", "--fn=relu", "--shape=256", "--calls=300",
         "--concurrency=3", "--json", f"--target={target_of(replicas)}"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] == 300
    served = [r.ok_calls("Evaluate") for r in replicas]
    assert sum(served) == 300
    assert min(served) >= 50, served
