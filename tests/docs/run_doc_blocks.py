"""Runs every shell block of a markdown file as a reader would.

  run_doc_blocks.py --repo ROOT --build BUILD_DIR MARKDOWN...

Each fenced block whose info string is sh, bash, shell or console runs in
bash (-e -o pipefail), in order, in a scratch copy of the repository whose
`build` is BUILD_DIR, with BUILD_DIR's server and client folders on PATH.
Every documented 127.0.0.1:PORT gets a real actserve server of its own on a
free port, started before the first block that names it and rewritten into
the block, and shared by all blocks of the file; an actserve-client command
without --target gets the default one written out first. A console block runs its
`$ ` lines.

A block that cannot run on a test machine is marked in the markdown with
`<!-- not run: REASON -->` on the line just before its fence; it is listed
with its reason. Exits 1 if any block fails.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
NOT_RUN = re.compile(r"^<!--\s*not run:\s*(.*?)\s*-->$")
ADDRESS = re.compile(r"\b(?:127\.0\.0\.1|localhost):(\d+)\b")
# The default --target of actserve-client and `python -m actserve`, written
# out so that it is rewritten too.
DEFAULT_TARGET = "127.0.0.1:50051"
CLI_CALL = re.compile(r"((?:\bactserve-client|-m actserve) "
                      r"(?:list|eval|health|bench|plot)\b)"
                      r"(?![^\n]*--target)")
BLOCK_TIMEOUT_S = 600


class Block:
    def __init__(self, path, line, language, text, not_run):
        self.path = path
        self.line = line  # of the opening fence, 1-based
        self.language = language
        self.text = text
        self.not_run = not_run  # the reason, or None

    def where(self):
        return f"{self.path}:{self.line}"

    def script(self):
        if self.language != "console":
            return self.text
        # "$ command" lines and their backslash continuations.
        lines, continuing = [], False
        for line in self.text.splitlines():
            if line.startswith("$ ") or continuing:
                lines.append(line[2:] if line.startswith("$ ") else line)
                continuing = line.endswith("\\")
        return "\n".join(lines) + "\n"


def shell_blocks(path, display_path):
    """The shell blocks of the markdown file at `path`."""
    blocks = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"^(\s*)(```+|~~~+)\s*([\w+-]*)", lines[i])
        if not fence:
            i += 1
            continue
        marker, language = fence.group(2), fence.group(3).lower()
        end = i + 1
        while end < len(lines) and not lines[end].strip().startswith(marker):
            end += 1
        if language in SHELL_LANGUAGES:
            previous = next((lines[j].strip() for j in range(i - 1, -1, -1)
                             if lines[j].strip()), "")
            mark = NOT_RUN.match(previous)
            if previous.startswith("<!--") and "not run" in previous and (
                    not mark or not mark.group(1)):
                raise SystemExit(f"{display_path}:{i + 1}: a not-run mark "
                                 "needs the form <!-- not run: REASON -->")
            blocks.append(Block(display_path, i + 1, language,
                                "\n".join(lines[i + 1:end]) + "\n",
                                mark.group(1) if mark else None))
        i = end + 1
    return blocks


def copy_repository(repo, destination):
    """The working tree without .git, build folders and node_modules."""
    def ignore(folder, names):
        skipped = {"node_modules", ".git", ".cache", "__pycache__"}
        if os.path.samefile(folder, repo):
            skipped |= {n for n in names if os.path.exists(
                os.path.join(folder, n, "CMakeCache.txt"))}
        return [n for n in names if n in skipped]
    shutil.copytree(repo, destination, symlinks=True, ignore=ignore)


class Servers:
    """One actserve server per documented port, each on a free port."""

    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = workdir
        self.processes = []
        self.address_of = {}  # documented port -> "127.0.0.1:real port"

    def rewrite(self, text):
        for port in ADDRESS.findall(text):
            if port not in self.address_of:
                self.address_of[port] = self.start()
        return ADDRESS.sub(lambda m: self.address_of[m.group(1)], text)

    def start(self):
        log = open(os.path.join(self.workdir,
                                f"server{len(self.processes)}.out"), "w+")
        process = subprocess.Popen(
            [self.binary, "--listen=127.0.0.1:0", "--log_level=warning"],
            stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            log.seek(0)
            found = re.search(r"actserve listening on (\S+)", log.read())
            if found:
                return found.group(1)
            time.sleep(0.05)
        log.seek(0)
        raise SystemExit(f"the server did not start:\n{log.read()}")

    def stop(self):
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def run_block(block, script, cwd, env):
    """(passed, output) of one block."""
    try:
        result = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=BLOCK_TIMEOUT_S, start_new_session=True)
    except subprocess.TimeoutExpired as timeout:
        output = (timeout.output or b"").decode(errors="replace")
        return False, output + f"\n(timed out after {BLOCK_TIMEOUT_S} s)"
    output = result.stdout.decode(errors="replace")
    if result.returncode != 0:
        output += f"\n(exit code {result.returncode})"
    return result.returncode == 0, output


def tail(text, limit=4000):
    return text if len(text) <= limit else "...\n" + text[-limit:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", required=True)
    parser.add_argument("--build", required=True)
    parser.add_argument("markdown", nargs="+")
    args = parser.parse_args()
    repo = os.path.realpath(args.repo)
    build = os.path.realpath(args.build)

    blocks = [b for name in args.markdown
              for b in shell_blocks(os.path.join(repo, name), name)]
    passed, failed, not_run = [], [], []
    with tempfile.TemporaryDirectory(prefix="actserve-docs-") as scratch:
        workspace = os.path.join(scratch, "repo")
        copy_repository(repo, workspace)
        os.symlink(build, os.path.join(workspace, "build"))
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([
            os.path.join(build, "server"), os.path.join(build, "client"),
            env.get("PATH", "")])
        servers = Servers(os.path.join(build, "server", "actserve"), scratch)
        try:
            for block in blocks:
                if block.not_run is not None:
                    print(f"NOT RUN {block.where()}: {block.not_run}")
                    not_run.append(block)
                    continue
                script = servers.rewrite(CLI_CALL.sub(
                    rf"\1 --target={DEFAULT_TARGET}", block.script()))
                print(f"RUN     {block.where()}\n{script.rstrip()}",
                      flush=True)
                start = time.monotonic()
                ok, output = run_block(block, script, workspace, env)
                seconds = time.monotonic() - start
                if ok:
                    print(f"PASS    {block.where()} ({seconds:.1f} s)")
                    passed.append(block)
                else:
                    print(f"FAIL    {block.where()} ({seconds:.1f} s)\n"
                          f"{tail(output)}")
                    failed.append(block)
                sys.stdout.flush()
        finally:
            servers.stop()

    print("\nnot run, with the reason given in the markdown:")
    for block in not_run:
        print(f"  {block.where()}: {block.not_run}")
    for block in failed:
        print(f"FAILED: {block.where()}")
    print(f"{len(passed)} passed, {len(failed)} failed, "
          f"{len(not_run)} skipped")
    return 1 if failed or not blocks else 0


if __name__ == "__main__":
    sys.exit(main())
