"""`kill -9` of `liger serve` in the middle of a fine-tuning job: the restarted server (same
--jobs-dir) resumes the job from its last checkpoint, not from step 0, and runs it to the end; the
output is published only once, complete, and the checkpoint directory is gone afterwards."""

import json
import os
import pathlib
import signal
import tempfile
import unittest

from liger_client import Client
from liger_serve import start_liger_serve, stop_liger_serve

CALL_TIMEOUT_SECONDS = 600
STEPS = 40
SAVE_EVERY = 2


class KillRecoveryTest(unittest.TestCase):
    def test_a_job_interrupted_by_kill_9_resumes_from_its_checkpoint(self):
        with tempfile.TemporaryDirectory(prefix="liger-kill-") as directory:
            root = pathlib.Path(directory)
            jobs = str(root / "jobs")
            train = root / "train.jsonl"
            corpus = ("Call me Ishmael. Some years ago, never mind how long precisely, having little "
                      "or no money in my purse, and nothing particular to interest me on shore, I "
                      "thought I would sail about a little and see the watery part of the world. ")
            with open(train, "w") as f:
                for i in range(64):
                    f.write(json.dumps({"text": f"{i}: " + corpus * 3}) + "\n")
            output = root / "tuned"

            log = open(root / "first.log", "w")
            process, address = start_liger_serve(["--jobs-dir", jobs], "listening on ", log)
            try:
                with Client(address, timeout=CALL_TIMEOUT_SECONDS) as client:
                    client.convert(os.environ["LIGER_MODEL"], str(root / "gla"), variant="gla")
                    job = client.fine_tune(str(root / "gla"), str(output), str(train),
                                           max_steps=STEPS, sequence_length=128,
                                           gradient_accumulation_steps=2, seed=5,
                                           save_every_steps=SAVE_EVERY)
                    for snapshot in client.watch_job(job.job_id):
                        if snapshot.progress.step >= SAVE_EVERY + 1:
                            break
                    self.assertEqual(snapshot.state, "running", snapshot.error_message)
                    self.assertLess(snapshot.progress.step, STEPS, "the job ended before the kill")
                # No clean shutdown: the job is mid-run and nothing gets to save anything.
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                process.stdout.close()
                log.close()
            killed_at = snapshot.progress.step
            self.assertFalse(output.exists(), "a partial output was published")

            log = open(root / "second.log", "w")
            process, address = start_liger_serve(["--jobs-dir", jobs], "listening on ", log)
            try:
                with Client(address, timeout=CALL_TIMEOUT_SECONDS) as client:
                    self.assertIn(client.get_job(job.job_id).state, ("queued", "running"))
                    snapshots = list(client.watch_job(job.job_id))
                    last = snapshots[-1]
                    self.assertEqual(last.state, "succeeded", last.error_message)
                    self.assertEqual(last.progress.step, STEPS)
                    # This server's run started from the checkpoint the first one left (at least
                    # SAVE_EVERY steps in, at most where it was killed); a run from scratch would
                    # report step 1.
                    ran = [s.progress.step for s in snapshots
                           if s.state == "running" and s.progress.step > 0]
                    self.assertTrue(ran)
                    self.assertGreaterEqual(min(ran), SAVE_EVERY)
                    self.assertLessEqual(min(ran), killed_at)
            finally:
                stop_liger_serve(process)
                log.close()
            self.assertTrue((output / "config.json").exists())
            self.assertFalse(pathlib.Path(str(output) + ".resume").exists())


if __name__ == "__main__":
    unittest.main()
