"""The Dockerfile, checked without a Docker engine: every path it copies from the repository
exists, and the runtime stage's Debian packages (with what they depend on) provide every shared
library `ldd` resolves for the liger binary."""

import os
import pathlib
import re
import shlex
import subprocess
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ["LIGER_BINARY"]


def instructions():
    """(stage, instruction, arguments) for each Dockerfile instruction, continuations joined."""
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    stage = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word = word.upper()
        if word == "FROM":
            stage = rest.split()[-1]
        yield stage, word, rest


def runtime_packages():
    for stage, word, rest in instructions():
        if stage == "runtime" and word == "RUN" and "apt-get install" in rest:
            install = rest.split("apt-get install", 1)[1].split("&&", 1)[0]
            return [w for w in shlex.split(install) if not w.startswith("-")]
    raise AssertionError("the runtime stage installs no packages")


def closure(packages):
    """The packages and everything they (pre-)depend on, as apt resolves them."""
    out = subprocess.run(
        ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
         "--no-breaks", "--no-replaces", "--no-enhances", *packages],
        check=True, capture_output=True, text=True).stdout
    return {line.strip() for line in out.splitlines()
            if line and not line.startswith(" ") and not line.startswith("<")}


def owner(path):
    """The Debian package that installed a library file (usrmerge: /lib is /usr/lib)."""
    for candidate in (path, "/usr" + path if path.startswith("/lib") else path,
                      os.path.realpath(path)):
        result = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if result.returncode == 0:
            return result.stdout.split(":", 1)[0]
    return None


class DockerfileTest(unittest.TestCase):
    def test_every_copied_path_exists(self):
        copied = 0
        for _, word, rest in instructions():
            if word != "COPY" or rest.startswith("--from"):
                continue
            for source in rest.split()[:-1]:
                self.assertTrue((ROOT / source).exists(), f"COPY {source}: not in the repository")
                copied += 1
        self.assertGreater(copied, 0)

    def test_runtime_packages_provide_every_library_ldd_resolves(self):
        provided = closure(runtime_packages() + ["libc6", "libgcc-s1"])
        ldd = subprocess.run(["ldd", BINARY], check=True, capture_output=True, text=True).stdout
        self.assertNotIn("not found", ldd)
        missing = {}
        for line in ldd.splitlines():
            match = re.search(r"=> (/\S+)", line)
            if not match:
                continue
            package = owner(match.group(1))
            self.assertIsNotNone(package, f"no Debian package owns {match.group(1)}")
            if package not in provided:
                missing[match.group(1)] = package
        self.assertEqual(missing, {}, "libraries the runtime stage would lack")

    def test_runs_as_a_non_root_user_with_a_grpc_health_check(self):
        words = {word: rest for stage, word, rest in instructions() if stage == "runtime"}
        self.assertRegex(words["USER"], r"^[1-9][0-9]*$")
        self.assertIn("liger", words["HEALTHCHECK"])
        self.assertIn("health", words["HEALTHCHECK"])


if __name__ == "__main__":
    unittest.main()
