"""Starts the real actserve server for the session; tests get its address."""

import os
import subprocess
import threading

import pytest


def start_server(binary, *flags):
    """Starts `binary` on a free port (it picks one for port 0 and prints it
    on its first line) and returns (process, address)."""
    process = subprocess.Popen(
        [binary, "--listen=127.0.0.1:0", *flags],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    # A server that neither prints nor exits must not hang the suite.
    timer = threading.Timer(30, process.kill)
    timer.start()
    line = process.stdout.readline()
    timer.cancel()
    prefix = "actserve listening on "
    if not line.startswith(prefix):
        process.kill()
        process.wait()
        raise RuntimeError(f"{binary} did not start: {line!r}")
    return process, line[len(prefix):].strip()


def stop_server(process):
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def server_binary():
    path = os.environ.get("ACTSERVE_SERVER")
    if not path:
        pytest.fail("set ACTSERVE_SERVER to the actserve server binary "
                    "(CTest does)")
    return path


@pytest.fixture(scope="session")
def cli():
    path = os.environ.get("ACTSERVE_CLIENT")
    if not path:
        pytest.fail("set ACTSERVE_CLIENT to the actserve-client binary "
                    "(CTest does)")
    return path


@pytest.fixture(scope="session")
def server(server_binary):
    process, address = start_server(server_binary)
    yield address
    stop_server(process)


@pytest.fixture(scope="session")
def client(server):
    from actserve import Client
    with Client(server, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def catalog(client):
    return {info.name: info for info in client.list_activations()}
