"""`liger finetune` as a data-parallel run of real processes, started the way torchrun or a
Kubernetes Indexed Job starts them (WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT), on the CPU over
Gloo: two ranks train what one process trains; SIGTERM to one rank stops them all with a checkpoint
that a two-rank --resume finishes; kill -9 of a rank ends the other with an error instead of a
hang; a rank whose peers never come gives up after the timeout. And a server's FineTune job with
data_parallel_ranks, whose ranks are threads of the server."""

import array
import json
import os
import pathlib
import re
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

from liger_client import Client
from liger_serve import convert_liger_model, start_liger_serve, stop_liger_serve

STEP_LINE = re.compile(r"^step (\d+)/(\d+) epoch \d+ loss ([0-9.]+)(?:.* eval ppl ([0-9.]+))?",
                       re.MULTILINE)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_safetensors(path):
    data = pathlib.Path(path).read_bytes()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    body = data[8 + size:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", entry
        begin, end = entry["data_offsets"]
        tensors[name] = array.array("f", body[begin:end])
    return tensors


class DistributedFineTuneTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.TemporaryDirectory(prefix="liger-dp-")
        cls.root = pathlib.Path(cls.directory.name)
        cls.model = cls.root / "gla"
        convert_liger_model(cls.model)
        cls.train = cls.root / "train.jsonl"
        cls.valid = cls.root / "valid.jsonl"
        text = ("Call me Ishmael. Some years ago, never mind how long precisely, having little or "
                "no money in my purse, and nothing particular to interest me on shore, I thought "
                "I would sail about a little and see the watery part of the world. ")
        with open(cls.train, "w") as f:
            for i in range(12):
                f.write(json.dumps({"text": f"{i}: " + text * 2}) + "\n")
        with open(cls.valid, "w") as f:
            f.write(json.dumps({"text": text * 2}) + "\n")

    @classmethod
    def tearDownClass(cls):
        cls.directory.cleanup()

    def args(self, output, steps, extra=()):
        return [os.environ["LIGER_BINARY"], "finetune", "--model", str(self.model), "--data",
                str(self.train), "--valid", str(self.valid), "--output", str(output),
                "--seq-len", "32", "--batch-size", "4", "--micro-batch", "1", "--lr", "5e-3",
                "--max-steps", str(steps), "--eval-every", "2", "--seed", "7", *extra]

    def start_ranks(self, output, steps, world_size=2, extra=(), env=None):
        port = str(free_port())
        processes = []
        for rank in range(world_size):
            rank_env = dict(os.environ, WORLD_SIZE=str(world_size), RANK=str(rank),
                            MASTER_ADDR="127.0.0.1", MASTER_PORT=port,
                            LIGER_DIST_TIMEOUT_SECONDS="60", OMP_NUM_THREADS="1", **(env or {}))
            processes.append(subprocess.Popen(self.args(output, steps, extra), env=rank_env,
                                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                              text=True))
        return processes

    @staticmethod
    def finish(processes, timeout=300):
        return [p.communicate(timeout=timeout) + (p.returncode,) for p in processes]

    def test_two_ranks_train_what_one_process_trains(self):
        alone = subprocess.run(self.args(self.root / "alone", 4), capture_output=True, text=True,
                               env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300)
        self.assertEqual(alone.returncode, 0, alone.stderr)
        ranks = self.finish(self.start_ranks(self.root / "parallel", 4))
        for out, err, code in ranks:
            self.assertEqual(code, 0, err)
        expected = STEP_LINE.findall(alone.stdout)
        self.assertEqual(len(expected), 4, alone.stdout)
        actual = STEP_LINE.findall(ranks[0][0])
        self.assertEqual([a[:2] for a in actual], [e[:2] for e in expected])
        for a, e in zip(actual, expected):
            self.assertAlmostEqual(float(a[2]), float(e[2]), delta=2e-4, msg=f"step {e[0]} loss")
            if e[3]:
                self.assertAlmostEqual(float(a[3]), float(e[3]), delta=1e-3 * float(e[3]))
        self.assertEqual(ranks[1][0], "", "only rank 0 prints")
        one = read_safetensors(self.root / "alone" / "adapter_model.safetensors")
        two = read_safetensors(self.root / "parallel" / "adapter_model.safetensors")
        self.assertEqual(sorted(one), sorted(two))
        for name in one:
            worst = max(abs(x - y) for x, y in zip(one[name], two[name]))
            self.assertLess(worst, 1e-4, name)

    def test_sigterm_to_one_rank_stops_all_with_a_checkpoint_that_resume_finishes(self):
        output = self.root / "stopped"
        processes = self.start_ranks(output, 40, extra=["--save-every", "1000"])
        # Wait for rank 0's second step line, then stop rank 1 as a drained pod would be.
        seen = ""
        for line in processes[0].stdout:
            seen += line
            if line.startswith("step 2/"):
                break
        processes[1].send_signal(signal.SIGTERM)
        rest = self.finish(processes)
        for (out, err, code), process in zip(rest, processes):
            self.assertNotEqual(code, 0, "a stopped rank must not report success")
            self.assertIn("--resume", err)
        stopped_at = int(STEP_LINE.findall(seen + rest[0][0])[-1][0])
        self.assertLess(stopped_at, 40)
        self.assertTrue((pathlib.Path(str(output) + ".resume") / "checkpoint.safetensors").exists())
        self.assertFalse(output.exists())
        resumed = self.finish(self.start_ranks(output, 40, extra=["--save-every", "1000",
                                                                 "--resume"]))
        for out, err, code in resumed:
            self.assertEqual(code, 0, err)
        steps = [int(s[0]) for s in STEP_LINE.findall(resumed[0][0])]
        self.assertEqual(steps, list(range(stopped_at + 1, 41)))
        self.assertTrue((output / "adapter_model.safetensors").exists())
        self.assertFalse(pathlib.Path(str(output) + ".resume").exists())

    def test_kill_9_of_one_rank_ends_the_other_with_an_error(self):
        output = self.root / "killed"
        processes = self.start_ranks(output, 400)
        for line in processes[0].stdout:
            if line.startswith("step 1/"):
                break
        processes[1].kill()
        start = time.monotonic()
        out, err = processes[0].communicate(timeout=120)
        processes[1].communicate()
        self.assertNotEqual(processes[0].returncode, 0)
        self.assertLess(time.monotonic() - start, 60, "the surviving rank hung")
        self.assertIn("failed", err)
        self.assertFalse(output.exists())

    def test_a_rank_whose_peers_never_come_gives_up(self):
        start = time.monotonic()
        process = subprocess.run(
            self.args(self.root / "alone-rank", 4), capture_output=True, text=True, timeout=120,
            env=dict(os.environ, WORLD_SIZE="2", RANK="0", MASTER_ADDR="127.0.0.1",
                     MASTER_PORT=str(free_port()), LIGER_DIST_TIMEOUT_SECONDS="3"))
        self.assertNotEqual(process.returncode, 0)
        self.assertLess(time.monotonic() - start, 60)
        self.assertIn("rank 0 of 2", process.stderr)

    def test_a_server_job_runs_its_ranks_as_threads(self):
        output = self.root / "job"
        log = open(self.root / "serve.log", "w")
        process, address = start_liger_serve([], "listening on ", log)
        try:
            with Client(address, timeout=300) as client:
                job = client.fine_tune(str(self.model), str(output), str(self.train),
                                       eval_data=str(self.valid), max_steps=3, sequence_length=32,
                                       micro_batch_size=1, gradient_accumulation_steps=4, seed=7,
                                       data_parallel_ranks=2)
                for snapshot in client.watch_job(job.job_id):
                    pass
                self.assertEqual(snapshot.state, "succeeded", snapshot.error_message)
                self.assertEqual(snapshot.progress.step, 3)
                self.assertTrue((output / "adapter_model.safetensors").exists())
                # More ranks than the node has GPUs: refused when the job runs, saying why.
                job = client.fine_tune(str(self.model), str(self.root / "too-many"),
                                       str(self.train), max_steps=1, sequence_length=32,
                                       data_parallel_ranks=64, device="cuda")
                for snapshot in client.watch_job(job.job_id):
                    pass
                self.assertEqual(snapshot.state, "failed")
                self.assertIn("data_parallel_ranks", snapshot.error_message)
        finally:
            stop_liger_serve(process)
            log.close()


if __name__ == "__main__":
    unittest.main()
