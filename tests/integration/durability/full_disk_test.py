"""The real `liger` binary writing to a small tmpfs that fills up: `liger convert` fails with one
line and leaves nothing visible (no output, no hidden staging directory, no partial file), and
`liger finetune` whose checkpoints live there fails with one line naming the checkpoint, keeps the
previous checkpoint, and `--resume` continues from it once there is room. Mounting needs
CAP_SYS_ADMIN (root); without it the tests skip."""

import errno
import json
import os
import pathlib
import re
import struct
import subprocess
import tempfile
import time
import unittest

COMMAND_TIMEOUT_SECONDS = 600


def mount_tmpfs(test, size_kib):
    """A tmpfs of `size_kib` KiB, unmounted when `test` ends however it ends."""
    path = tempfile.mkdtemp(prefix="liger-full-disk-")
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", path],
                                 capture_output=True, text=True)
        why = mounted.stderr.strip()
    except FileNotFoundError as e:
        mounted, why = None, str(e)
    if mounted is None or mounted.returncode != 0:
        os.rmdir(path)
        raise unittest.SkipTest(f"cannot mount a tmpfs (the full-disk tests need root or "
                                f"CAP_SYS_ADMIN): {why}")
    test.addCleanup(os.rmdir, path)
    # Lazy, so that a process a failed test left running cannot keep it mounted.
    test.addCleanup(subprocess.run, ["umount", "-l", path], check=True)
    return pathlib.Path(path)


def fill(directory):
    """Writes directory/filler until the file system is full."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    block = b"f" * 65536
    try:
        while True:
            os.write(fd, block)
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)


def liger(*args, **kwargs):
    return subprocess.run([os.environ["LIGER_BINARY"], *args], capture_output=True, text=True,
                          timeout=COMMAND_TIMEOUT_SECONDS, **kwargs)


def checkpoint_step(path):
    """The step recorded in a fine-tuning checkpoint (the metadata of its safetensors header)."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    return json.loads(header["__metadata__"]["liger_fine_tune"])["step"]


class FullDiskConvertTest(unittest.TestCase):
    def test_a_conversion_that_fills_the_disk_leaves_nothing_visible(self):
        # llama3-tiny's weights are about 15 MB: the copy fills a 4 MiB disk part of the way in,
        # and an already full one at its first byte.
        for filled in (False, True):
            with self.subTest(filled=filled):
                disk = mount_tmpfs(self, 4096)
                if filled:
                    fill(disk)
                before = sorted(p.name for p in disk.iterdir())
                done = liger("convert", "--model", os.environ["LIGER_MODEL"], "--output",
                             str(disk / "gla"), "--variant", "gla")
                self.assertNotEqual(done.returncode, 0)
                lines = done.stderr.splitlines()
                self.assertEqual(len(lines), 1, done.stderr)
                self.assertTrue(lines[0].startswith("liger convert: "), lines[0])
                self.assertIn("No space left on device", lines[0])
                # No output, no staging directory, no partial file: only what was there.
                self.assertEqual(sorted(p.name for p in disk.iterdir()), before)


class FullDiskFineTuneTest(unittest.TestCase):
    def test_a_fine_tune_that_fills_the_disk_resumes_from_its_last_checkpoint(self):
        # Room for checkpoints and, once the filler is gone, the published model (~15 MB).
        disk = mount_tmpfs(self, 32 * 1024)
        with tempfile.TemporaryDirectory(prefix="liger-full-disk-model-") as directory:
            root = pathlib.Path(directory)
            converted = liger("convert", "--model", os.environ["LIGER_MODEL"], "--output",
                              str(root / "gla"), "--variant", "gla")
            self.assertEqual(converted.returncode, 0, converted.stderr)
            train = root / "train.jsonl"
            corpus = ("Call me Ishmael. Some years ago, never mind how long precisely, having "
                      "little or no money in my purse, and nothing particular to interest me on "
                      "shore, I thought I would sail about a little and see the watery part of the "
                      "world. ")
            with open(train, "w") as f:
                for i in range(16):
                    f.write(json.dumps({"text": f"{i}: " + corpus * 2}) + "\n")
            output = disk / "tuned"
            resume_dir = disk / "tuned.resume"
            steps = 30
            command = ["finetune", "--model", str(root / "gla"), "--data", str(train),
                       "--output", str(output), "--seq-len", "64", "--batch-size", "2",
                       "--max-steps", str(steps), "--save-every", "1", "--seed", "5"]

            process = subprocess.Popen([os.environ["LIGER_BINARY"], *command],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                # Once the first checkpoint is in place, the disk fills up: a later save fails.
                deadline = time.monotonic() + COMMAND_TIMEOUT_SECONDS
                while (not (resume_dir / "checkpoint.safetensors").exists()
                       and process.poll() is None and time.monotonic() < deadline):
                    time.sleep(0.001)
                fill(disk)
                out, err = process.communicate(timeout=COMMAND_TIMEOUT_SECONDS)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.communicate()
            self.assertNotEqual(process.returncode, 0, out)
            lines = err.splitlines()
            self.assertEqual(len(lines), 1, err)
            self.assertTrue(lines[0].startswith("liger finetune: "), lines[0])
            self.assertIn("No space left on device", lines[0])
            self.assertIn(str(resume_dir / "checkpoint.safetensors"), lines[0])

            # The step whose checkpoint failed is the last one reported; the one before it is
            # intact, alone, and nothing was published.
            reported = [int(m.group(1)) for m in re.finditer(r"^step (\d+)/", out, re.M)]
            self.assertTrue(reported, out)
            failed_at = reported[-1]
            self.assertLess(failed_at, steps)
            self.assertEqual(sorted(p.name for p in disk.iterdir()), ["filler", "tuned.resume"])
            self.assertEqual([p.name for p in resume_dir.iterdir()], ["checkpoint.safetensors"])
            self.assertEqual(checkpoint_step(resume_dir / "checkpoint.safetensors"), failed_at - 1)

            # A fresh run may not clobber it; with room again --resume continues from it.
            fresh = liger(*command)
            self.assertNotEqual(fresh.returncode, 0)
            self.assertIn("resume it", fresh.stderr)
            (disk / "filler").unlink()
            resumed = liger(*command, "--resume")
            self.assertEqual(resumed.returncode, 0, resumed.stderr)
            again = [int(m.group(1)) for m in re.finditer(r"^step (\d+)/", resumed.stdout, re.M)]
            self.assertEqual(again, list(range(failed_at, steps + 1)))
            self.assertTrue((output / "config.json").exists())
            self.assertEqual(sorted(p.name for p in disk.iterdir()), ["tuned"])


if __name__ == "__main__":
    unittest.main()
