"""client/python as a user installs it: pip into a fresh venv, offline (the
route client/README.md gives), then the installed package against the real
server, from outside the source tree."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import references

SOURCE = os.path.join(os.environ.get("ACTSERVE_SOURCE_DIR", ""), "client",
                      "python")


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    root = tmp_path_factory.mktemp("package")
    # A copy: pip builds in place, and other tests may be building from the
    # same source folder at the same time.
    package = root / "python"
    shutil.copytree(SOURCE, package, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__"))
    env = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages",
                    str(env)], check=True)
    # --no-index: proof that nothing is downloaded. --no-build-isolation:
    # an isolated build would fetch setuptools; the system's is used.
    subprocess.run([str(env / "bin" / "pip"), "install", "--no-index",
                    "--no-build-isolation", str(package)], check=True,
                   env=_clean_env())
    return env


def _clean_env():
    """The environment without the source tree on PYTHONPATH."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def run(venv, tmp_path, *args):
    return subprocess.run([str(venv / "bin" / "python"), *args],
                          cwd=tmp_path, env=_clean_env(), text=True,
                          capture_output=True, timeout=120)


def test_the_installed_package_evaluates(venv, server, tmp_path):
    script = (
        "import actserve, numpy as np\n"
        "with actserve.Client(%r) as client:\n"
        "    print(actserve.__file__)\n"
        "    print(client.evaluate('sigmoid', np.array([0.0]))[0])\n"
        % server)
    result = run(venv, tmp_path, "-c", script)
    assert result.returncode == 0, result.stderr
    module, value = result.stdout.split()
    assert module.startswith(str(venv)), module
    assert float(value) == 0.5


def test_help_describes_the_client(venv, tmp_path):
    result = run(venv, tmp_path, "-c",
                 "import actserve, pydoc; "
                 "print(pydoc.render_doc(actserve.Client, renderer="
                 "pydoc.plaintext))")
    assert result.returncode == 0, result.stderr
    for text in ("evaluate(self, name: 'str', x: 'npt.ArrayLike'",
                 "list_activations(self)", "health(self",
                 "Raises ActservError"):
        assert text in result.stdout


def test_module_commands_mirror_the_cli(venv, server, tmp_path):
    target = f"--target={server}"
    names = run(venv, tmp_path, "-m", "actserve", "list", "--names", target)
    assert names.returncode == 0, names.stderr
    assert "sigmoid" in names.stdout.split()

    health = run(venv, tmp_path, "-m", "actserve", "health", target)
    assert (health.returncode, health.stdout) == (0, "SERVING\n")
    unknown = run(venv, tmp_path, "-m", "actserve", "health", target,
                  "--service=nobody")
    assert unknown.returncode == 1 and "NOT_FOUND" in unknown.stderr

    x = np.linspace(-8, 8, 101)
    g = np.random.default_rng(0).uniform(-1, 1, x.shape)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "g.npy", g)
    forward = run(venv, tmp_path, "-m", "actserve", "eval", target,
                  "--fn=sigmoid", "--in=x.npy", "--out=y.npy")
    assert forward.returncode == 0, forward.stderr
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"),
                               references.sigmoid(x), rtol=1e-12)
    backward = run(venv, tmp_path, "-m", "actserve", "eval", target,
                   "--fn=swish", "--param=beta=1.5", "--mode=backward",
                   "--in=x.npy", "--grad=g.npy", "--out=gx.npy",
                   "--param-grad-out=beta.npy")
    assert backward.returncode == 0, backward.stderr
    np.testing.assert_allclose(np.load(tmp_path / "beta.npy"),
                               references.swish_beta_grad(x, g, 1.5),
                               rtol=1e-10)

    refused = run(venv, tmp_path, "-m", "actserve", "eval", target,
                  "--fn=no_such_function", "--in=x.npy", "--out=z.npy")
    assert refused.returncode == 1
    assert "INVALID_ARGUMENT" in refused.stderr
    assert not (tmp_path / "z.npy").exists()
    usage = run(venv, tmp_path, "-m", "actserve", "eval", "--fn=sigmoid")
    assert usage.returncode == 2 and "--in" in usage.stderr
