"""`kill -9` in the middle of work that must not be lost or half-visible: of `liger serve` during a
fine-tuning job (the restarted server, on the same --jobs-dir, resumes the job from its last
checkpoint, not from step 0, and runs it to the end; the output is published only once, complete,
and the checkpoint directory is gone afterwards), and of `liger convert` while it writes (no
output appears, and the same conversion then succeeds and removes the killed run's hidden staging
directory)."""

import json
import os
import pathlib
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import unittest

from liger_client import Client
from liger_serve import kill_liger_serve, start_liger_serve, stop_liger_serve

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
            finally:
                # No clean shutdown: the job is mid-run and nothing gets to save anything.
                kill_liger_serve(process)
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


def write_large_llama(directory, layers=16, hidden=1024, intermediate=4096):
    """A Llama checkpoint of about 500 MB with llama3-tiny's tokenizer: constant bf16 weights
    (a conversion copies them; their values do not matter), so that writing its conversion takes
    long enough to be interrupted."""
    source = pathlib.Path(os.environ["LIGER_MODEL"])
    directory.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        if (source / name).exists():
            shutil.copy(source / name, directory / name)
    config = json.loads((source / "config.json").read_text())
    heads, kv_heads, head_dim = hidden // 64, hidden // 256, 64
    config.update(hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=layers,
                  num_attention_heads=heads, num_key_value_heads=kv_heads, head_dim=head_dim)
    (directory / "config.json").write_text(json.dumps(config))
    vocab = config["vocab_size"]
    shapes = {"model.embed_tokens.weight": [vocab, hidden], "model.norm.weight": [hidden]}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes.update({p + "input_layernorm.weight": [hidden],
                       p + "post_attention_layernorm.weight": [hidden],
                       p + "self_attn.q_proj.weight": [heads * head_dim, hidden],
                       p + "self_attn.k_proj.weight": [kv_heads * head_dim, hidden],
                       p + "self_attn.v_proj.weight": [kv_heads * head_dim, hidden],
                       p + "self_attn.o_proj.weight": [hidden, heads * head_dim],
                       p + "mlp.gate_proj.weight": [intermediate, hidden],
                       p + "mlp.up_proj.weight": [intermediate, hidden],
                       p + "mlp.down_proj.weight": [hidden, intermediate]})
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in shapes.items():
        size = 2 * shape[0] * (shape[1] if len(shape) > 1 else 1)
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    chunk = b"\x3c\x3c" * (1 << 20)  # bf16 0.0115, 2 MiB at a time
    with open(directory / "model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded)
        left = offset
        while left > 0:
            f.write(chunk[:min(left, len(chunk))])
            left -= min(left, len(chunk))


class ConvertKillTest(unittest.TestCase):
    def test_a_conversion_killed_while_it_writes_leaves_no_output(self):
        with tempfile.TemporaryDirectory(prefix="liger-kill-convert-") as directory:
            root = pathlib.Path(directory)
            write_large_llama(root / "large")
            output = root / "large-gla"
            command = [os.environ["LIGER_BINARY"], "convert", "--model", str(root / "large"),
                       "--output", str(output), "--variant", "gla"]
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            # Kill it once its staging directory holds some of the weights.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and process.poll() is None:
                partial = [p for p in root.glob(".large-gla.partial-*")
                           if any(f.stat().st_size > (1 << 20) for f in p.iterdir())]
                if partial:
                    break
                time.sleep(0.005)
            self.assertIsNone(process.poll(), "the conversion ended before it could be killed")
            process.send_signal(signal.SIGKILL)
            process.wait()
            process.stderr.close()
            self.assertFalse(output.exists(), "a killed conversion left its output visible")

            done = subprocess.run(command, capture_output=True, text=True)
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertTrue((output / "config.json").exists())
            self.assertEqual(json.loads((output / "config.json").read_text())["model_type"],
                             "liger_gla")
            # The rerun removed the killed run's staging directory (no live process held it).
            self.assertEqual(list(root.glob(".large-gla.partial-*")), [])


if __name__ == "__main__":
    unittest.main()
