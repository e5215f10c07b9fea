"""Starts and stops `liger serve` for the Python suites: LIGER_BINARY and LIGER_MODEL name the binary
and the model (`model` serves another); `extra_args` pick the ports (port 0 each). start_liger_serve returns the process and
the address printed on the line that starts with `prefix` ("listening on ", "http on "), or, for a
tuple of prefixes, the addresses in that order."""

import os
import subprocess
import threading

START_TIMEOUT_SECONDS = 120


def start_liger_serve(extra_args, prefix, log, model=None):
    process = subprocess.Popen(
        [os.environ["LIGER_BINARY"], "serve", "--model", model or os.environ["LIGER_MODEL"],
         "--port", "0", *extra_args], stdout=subprocess.PIPE, stderr=log, text=True)
    prefixes = (prefix,) if isinstance(prefix, str) else tuple(prefix)
    addresses = {}
    # A server that never prints the address is killed, which ends the loop below.
    watchdog = threading.Timer(START_TIMEOUT_SECONDS, process.kill)
    watchdog.start()
    try:
        for line in process.stdout:
            for p in prefixes:
                if line.startswith(p):
                    addresses[p] = line[len(p):].strip()
            if len(addresses) == len(prefixes):
                found = [addresses[p] for p in prefixes]
                return process, found[0] if isinstance(prefix, str) else found
    finally:
        watchdog.cancel()
    process.kill()
    process.wait()
    process.stdout.close()
    raise RuntimeError(f"liger serve printed no line starting with {prefix!r}")


def convert_liger_model(output, variant="gla"):
    """`liger convert` of LIGER_MODEL into `output`: a model whose sessions hold fixed-size
    states."""
    subprocess.run([os.environ["LIGER_BINARY"], "convert", "--model", os.environ["LIGER_MODEL"],
                    "--output", str(output), "--variant", variant], check=True,
                   stdout=subprocess.DEVNULL)


def kill_liger_serve(process):
    """SIGKILL, as a crash ends it: nothing gets to save anything; closes its stdout."""
    process.kill()
    process.wait()
    process.stdout.close()


def stop_liger_serve(process):
    """SIGTERM (a graceful drain), SIGKILL if that takes over a minute; closes its stdout."""
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    process.stdout.close()
