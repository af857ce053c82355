"""actserve-client end to end: real server, files written and read by
numpy, exit codes as a shell or a container HEALTHCHECK sees them."""

import json
import os
import subprocess
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

import references


@pytest.fixture()
def run(cli, server):
    def run(*args, target=server):
        return subprocess.run([cli, *args, f"--target={target}"],
                              capture_output=True, text=True, timeout=120)
    return run


def save(path, array, version=None):
    with open(path, "wb") as f:
        np.lib.format.write_array(f, array, version=version)
    return str(path)


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
@pytest.mark.parametrize("dtype", ["<f2", "<f4", "<f8"])
def test_eval_reads_and_writes_numpy_files(run, tmp_path, version, dtype):
    x = np.linspace(-9, 9, 24).reshape(2, 3, 4).astype(dtype)
    path = save(tmp_path / "x.npy", x, version)
    result = run("eval", "--fn=sigmoid", f"--in={path}",
                 f"--out={tmp_path / 'y.npy'}")
    assert result.returncode == 0, result.stderr
    y = np.load(tmp_path / "y.npy")
    assert y.dtype == x.dtype and y.shape == x.shape
    want = references.sigmoid(x.astype(np.float64)).astype(dtype)
    np.testing.assert_allclose(y, want, rtol=2e-3 if dtype == "<f2" else 2e-6)
    assert "via Evaluate," in result.stdout


def test_eval_backward_streams_big_files_in_small_chunks(run, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-6, 6, (50, 1001))
    g = rng.uniform(-1, 1, x.shape)
    args = ["eval", "--fn=sigmoid", "--mode=backward",
            f"--in={save(tmp_path / 'x.npy', x)}",
            f"--grad={save(tmp_path / 'g.npy', g)}"]
    unary = run(*args, f"--out={tmp_path / 'unary.npy'}")
    streamed = run(*args, f"--out={tmp_path / 'stream.npy'}",
                   "--stream-threshold=0", "--chunk-bytes=4096")
    assert unary.returncode == 0, unary.stderr
    assert streamed.returncode == 0, streamed.stderr
    assert "via EvaluateStream" in streamed.stdout
    np.testing.assert_array_equal(np.load(tmp_path / "unary.npy"),
                                  np.load(tmp_path / "stream.npy"))
    np.testing.assert_allclose(
        np.load(tmp_path / "stream.npy"),
        g * references.sigmoid(x) * references.sigmoid(-x), rtol=1e-12,
        atol=1e-15)


def test_eval_streams_above_the_message_size(run, tmp_path):
    x = np.random.default_rng(1).uniform(-6, 6, 2_000_000).astype(np.float32)
    result = run("eval", "--fn=relu", f"--in={save(tmp_path / 'x.npy', x)}",
                 f"--out={tmp_path / 'y.npy'}")
    assert result.returncode == 0, result.stderr
    assert "via EvaluateStream" in result.stdout
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"),
                                  np.maximum(x, 0))


def test_eval_may_overwrite_its_input(run, tmp_path):
    # eval maps its input and truncates its output when the answer starts:
    # the same file for both must still work (it is read whole first).
    x = np.random.default_rng(2).uniform(-6, 6, 3_000_000)
    g = np.random.default_rng(3).uniform(-1, 1, x.shape)
    x_path = save(tmp_path / "x.npy", x)
    g_path = save(tmp_path / "g.npy", g)
    result = run("eval", "--fn=sigmoid", "--mode=backward", f"--in={x_path}",
                 f"--grad={g_path}", f"--out={g_path}", "--chunk-bytes=65536")
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(
        np.load(g_path), g * references.sigmoid(x) * references.sigmoid(-x),
        rtol=1e-12, atol=1e-15)


def test_eval_bfloat16_files(run, tmp_path):
    x = np.array([-2.0, -0.5, 0.75, 3.0], np.float32)
    bits = (x.view(np.uint32) >> 16).astype("<u2")
    path = save(tmp_path / "x.npy", bits)
    plain = run("eval", "--fn=relu", f"--in={path}",
                f"--out={tmp_path / 'y.npy'}")
    assert plain.returncode != 0 and "--bf16" in plain.stderr
    result = run("eval", "--fn=relu", "--bf16", f"--in={path}",
                 f"--out={tmp_path / 'y.npy'}")
    assert result.returncode == 0, result.stderr
    y = np.load(tmp_path / "y.npy")
    assert y.dtype == np.dtype("<u2")
    np.testing.assert_array_equal(
        (y.astype(np.uint32) << 16).view(np.float32), np.maximum(x, 0))


def test_eval_parameter_gradient_file(run, tmp_path, catalog):
    x = np.array([[-2.0, 1.0], [-1.0, -3.0]])  # channels along axis 1
    g = np.array([[1.0, 1.0], [0.5, 2.0]])
    result = run("eval", "--fn=prelu", "--mode=backward",
                 "--param=channel_alpha=0.1,0.2",
                 f"--in={save(tmp_path / 'x.npy', x)}",
                 f"--grad={save(tmp_path / 'g.npy', g)}",
                 f"--out={tmp_path / 'gx.npy'}",
                 f"--param-grad-out={tmp_path / 'ga.npy'}")
    assert result.returncode == 0, result.stderr
    np.testing.assert_allclose(np.load(tmp_path / "gx.npy"),
                               g * np.where(x > 0, 1, [0.1, 0.2]))
    np.testing.assert_allclose(np.load(tmp_path / "ga.npy"),
                               [-2.0 - 0.5, -6.0])


@pytest.mark.parametrize("array,message", [
    (np.asfortranarray(np.ones((2, 3))), "Fortran"),
    (np.ones(3, ">f4"), "big-endian"),
    (np.arange(3), "integer"),
    (np.array([1, "a"], dtype=object), "object"),
])
def test_eval_rejects_unsupported_files(run, tmp_path, array, message):
    path = tmp_path / "x.npy"
    np.save(path, array, allow_pickle=True)
    result = run("eval", "--fn=relu", f"--in={path}",
                 f"--out={tmp_path / 'y.npy'}")
    assert result.returncode == 1
    assert message in result.stderr
    assert not (tmp_path / "y.npy").exists()


def test_eval_rejects_truncated_files(run, tmp_path):
    path = save(tmp_path / "x.npy", np.ones(100))
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) - 8)
    result = run("eval", "--fn=relu", f"--in={path}",
                 f"--out={tmp_path / 'y.npy'}")
    assert result.returncode == 1 and "truncated" in result.stderr


def test_eval_reports_server_errors(run, tmp_path):
    path = save(tmp_path / "x.npy", np.ones(3))
    result = run("eval", "--fn=no_such_fn", f"--in={path}",
                 f"--out={tmp_path / 'y.npy'}")
    assert result.returncode == 1
    assert "INVALID_ARGUMENT" in result.stderr
    assert "no_such_fn" in result.stderr


def test_health(run, cli, tmp_path):
    ok = run("health")
    assert ok.returncode == 0 and ok.stdout.strip() == "SERVING"
    unknown = run("health", "--service=no.such.Service")
    assert unknown.returncode == 1 and "NOT_FOUND" in unknown.stderr
    down = run("health", "--quiet", "--deadline=2s",
               target=f"unix:{tmp_path}/nobody.sock")
    assert down.returncode == 1 and down.stdout == "" and down.stderr == ""


def test_list(run, client):
    names = [info.name for info in client.list_activations()]
    table = run("list")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:2] == ["NAME", "KIND"]
    assert [line.split()[0] for line in lines[1:]] == names
    listed = run("list", "--names")
    assert listed.stdout.split() == names
    catalog = json.loads(run("list", "--json").stdout)
    assert [a["name"] for a in catalog["activations"]] == names


def test_plot_writes_an_svg_of_f_and_its_derivative(run, tmp_path):
    out = tmp_path / "sigmoid.svg"
    result = run("plot", "--fn=sigmoid", "--range=-5:5", "--points=101",
                 f"--out={out}")
    assert result.returncode == 0, result.stderr
    svg = ElementTree.parse(out).getroot()
    ns = {"svg": "http://www.w3.org/2000/svg"}
    lines = svg.findall("svg:polyline", ns)
    assert len(lines) == 2
    f_points = [tuple(map(float, p.split(",")))
                for p in lines[0].get("points").split()]
    assert len(f_points) == 101
    # SVG y grows downwards: sigmoid rises, so its y coordinate falls.
    ys = [y for _, y in f_points]
    assert all(a > b for a, b in zip(ys, ys[1:]))
    texts = [t.text for t in svg.findall("svg:text", ns)]
    assert "sigmoid" in texts and "f'(x)" in texts


def test_bench_counts_calls_and_latencies(run):
    result = run("bench", "--fn=relu", "--shape=64,64", "--calls=40",
                 "--concurrency=2", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["calls"] == 40 and report["ok"] == 40
    assert report["errors"] == {}
    latency = report["latency_ms"]
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] \
        <= latency["max"]
    assert report["sent_gb_per_second"] > 0
    streaming = run("bench", "--fn=sigmoid", "--mode=backward", "--streaming",
                    "--shape=16,16", "--calls=10", "--json")
    assert json.loads(streaming.stdout)["ok"] == 10, streaming.stderr


def test_bench_counts_errors_by_status(run):
    result = run("bench", "--fn=relu", "--param=alpha=1", "--calls=3",
                 "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["errors"] == {"INVALID_ARGUMENT": 3}
    assert report["ok"] == 0


@pytest.mark.parametrize("command",
                         ["list", "eval", "health", "bench", "plot"])
def test_every_command_has_help_and_rejects_unknown_flags(cli, command):
    help_text = subprocess.run([cli, command, "--help"], capture_output=True,
                               text=True)
    assert help_text.returncode == 0
    assert help_text.stdout.startswith(f"Usage: actserve-client {command}")
    assert "--target=ADDR" in help_text.stdout
    bad = subprocess.run([cli, command, "--no-such-flag=1"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown flag" in bad.stderr


def make_certificates(folder):
    """A CA, a server certificate for the name actserve.test and a client
    certificate, all signed by the CA; returns the folder's paths."""
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, cwd=folder,
                       capture_output=True)
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
           "-nodes"]
    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "1", "-subj", "/CN=actserve test CA")
    for name, extension in [("server", "subjectAltName=DNS:actserve.test"),
                            ("client", "extendedKeyUsage=clientAuth")]:
        (folder / f"{name}.ext").write_text(extension + "\n")
        openssl("req", *key, "-keyout", f"{name}.key", "-out",
                f"{name}.csr", "-subj", f"/CN={name}")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem",
                "-CAkey", "ca.key", "-CAcreateserial", "-days", "1",
                "-out", f"{name}.pem", "-extfile", f"{name}.ext")
    return {name: str(folder / name) for name in
            ["ca.pem", "server.pem", "server.key", "client.pem",
             "client.key"]}


def test_mutual_tls(cli, server_binary, tmp_path):
    from conftest import start_server, stop_server
    pem = make_certificates(tmp_path)
    process, address = start_server(
        server_binary, f"--tls_cert={pem['server.pem']}",
        f"--tls_key={pem['server.key']}",
        f"--tls_client_ca={pem['ca.pem']}")
    try:
        def health(*flags):
            return subprocess.run(
                [cli, "health", f"--target={address}", "--deadline=10s",
                 *flags], capture_output=True, text=True, timeout=60)
        trusted = [f"--tls-ca={pem['ca.pem']}",
                   "--tls-server-name=actserve.test"]
        ok = health(*trusted, f"--tls-cert={pem['client.pem']}",
                    f"--tls-key={pem['client.key']}")
        assert ok.returncode == 0 and ok.stdout.strip() == "SERVING", \
            ok.stderr
        # The server demands a client certificate.
        assert health(*trusted).returncode == 1
        # The client checks the server's name against its certificate.
        wrong_name = health(f"--tls-ca={pem['ca.pem']}",
                            f"--tls-cert={pem['client.pem']}",
                            f"--tls-key={pem['client.key']}")
        assert wrong_name.returncode == 1
        # Plaintext to a TLS server fails.
        assert health().returncode == 1
    finally:
        stop_server(process)
