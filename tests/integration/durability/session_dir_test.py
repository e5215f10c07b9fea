"""`liger serve --session-dir`: sessions survive restarts. A clean restart (SIGTERM) parks every
session and the next server continues each one with exactly the tokens an unmoved session
produces; after `kill -9`, the sessions that had been evicted to the directory survive the same
way, and those only in memory answer NOT_FOUND (never a silent fresh start)."""

import pathlib
import tempfile
import unittest

from liger_client import Client, NotFoundError
from liger_serve import (convert_liger_model, kill_liger_serve, start_liger_serve,
                         stop_liger_serve)
from session_turns import FIRST_TURN, SECOND_TURN, turn

CALL_TIMEOUT_SECONDS = 120


class SessionDirTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory(prefix="liger-session-dir-")
        root = pathlib.Path(cls.scratch.name)
        cls.model = str(root / "gla")
        convert_liger_model(cls.model)
        with open(root / "measure.log", "w") as log:
            process, address = start_liger_serve([], "listening on ", log, model=cls.model)
            try:
                with Client(address, timeout=CALL_TIMEOUT_SECONDS) as client:
                    cls.state_bytes = client.create_session().state_bytes
            finally:
                stop_liger_serve(process)
        assert cls.state_bytes > 0

    @classmethod
    def tearDownClass(cls):
        cls.scratch.cleanup()

    def serve(self, directory, log_name, extra=()):
        log = open(pathlib.Path(directory) / log_name, "w")
        self.addCleanup(log.close)
        process, address = start_liger_serve(
            ["--session-dir", str(pathlib.Path(directory) / "sessions"), *extra], "listening on ",
            log, model=self.model)
        return process, address

    def test_a_clean_restart_continues_every_session_exactly(self):
        with tempfile.TemporaryDirectory(prefix="liger-restart-") as directory:
            process, address = self.serve(directory, "first.log")
            try:
                with Client(address, timeout=CALL_TIMEOUT_SECONDS) as client:
                    sessions = [client.create_session().session_id for _ in range(3)]
                    for i, session_id in enumerate(sessions):
                        turn(client, session_id, f"{i}. {FIRST_TURN}")
                    # What each session says next if it never moves: a fork continued here.
                    expected = {}
                    for session_id in sessions:
                        fork = client.fork_session(session_id).session_id
                        expected[session_id] = turn(client, fork, SECOND_TURN)
                        client.delete_session(fork)
                    before = {s.session_id: s.tokens for s in client.list_sessions()}
            finally:
                stop_liger_serve(process)
            files = list((pathlib.Path(directory) / "sessions").glob("*.session"))
            self.assertEqual(len(files), 3)
            self.assertIn("sessions parked", (pathlib.Path(directory) / "first.log").read_text())

            process, address = self.serve(directory, "second.log")
            try:
                with Client(address, timeout=CALL_TIMEOUT_SECONDS) as client:
                    after = {s.session_id: s.tokens for s in client.list_sessions()}
                    self.assertEqual(after, before)
                    for session_id in sessions:
                        self.assertEqual(turn(client, session_id, SECOND_TURN),
                                         expected[session_id])
            finally:
                stop_liger_serve(process)

    def test_after_kill_9_evicted_sessions_survive_and_the_others_are_not_found(self):
        # Room for two states: a third session evicts (parks) the least recently used one.
        budget = str(self.state_bytes * 5 // 2)
        with tempfile.TemporaryDirectory(prefix="liger-kill-sessions-") as directory:
            process, address = self.serve(directory, "first.log",
                                          ["--session-budget-bytes", budget])
            try:
                with Client(address, timeout=CALL_TIMEOUT_SECONDS) as client:
                    parked = client.create_session().session_id
                    turn(client, parked, FIRST_TURN)
                    tokens = client.get_session(parked).tokens
                    reference = client.fork_session(parked).session_id
                    expected = turn(client, reference, SECOND_TURN)
                    in_memory = client.create_session().session_id  # parks `parked`
                    turn(client, in_memory, FIRST_TURN)
                    session_file = pathlib.Path(directory) / "sessions" / f"{parked}.session"
                    self.assertTrue(session_file.exists())
                    self.assertEqual(client.get_session(parked).tokens, tokens)
            finally:
                kill_liger_serve(process)

            process, address = self.serve(directory, "second.log",
                                          ["--session-budget-bytes", budget])
            try:
                with Client(address, timeout=CALL_TIMEOUT_SECONDS) as client:
                    self.assertEqual([s.session_id for s in client.list_sessions()], [parked])
                    self.assertEqual(turn(client, parked, SECOND_TURN), expected)
                    for lost in (in_memory, reference):
                        with self.assertRaises(NotFoundError):
                            turn(client, lost, SECOND_TURN)
            finally:
                stop_liger_serve(process)


if __name__ == "__main__":
    unittest.main()
