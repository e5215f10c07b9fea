"""ExportSession and ImportSession between two `liger serve` processes on loopback: a session moved
from one server to the other continues with exactly the tokens the unmoved session produces;
damaged, truncated and other tenants' exports, a second import of the same id and an export for
another model are refused, and nothing is created by them; a server asked for a session it does
not hold answers NOT_FOUND."""

import pathlib
import tempfile
import unittest

from liger_client import Client, errors
from liger_serve import convert_liger_model, start_liger_serve, stop_liger_serve
from session_turns import FIRST_TURN, SECOND_TURN, turn

CALL_TIMEOUT_SECONDS = 120


class SessionMigrationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.scratch = tempfile.TemporaryDirectory(prefix="liger-migration-")
        root = pathlib.Path(cls.scratch.name)
        convert_liger_model(root / "gla")
        convert_liger_model(root / "hgrn2", variant="hgrn2")
        cls.servers = []
        # Two replicas of the same model, and one of another model under the same name.
        for name, model in (("source", "gla"), ("target", "gla"), ("other", "hgrn2")):
            log = open(root / f"{name}.log", "w")
            process, address = start_liger_serve(["--model-name", "liger"], "listening on ", log,
                                                 model=str(root / model))
            cls.servers.append((process, log))
            setattr(cls, name, Client(address, timeout=CALL_TIMEOUT_SECONDS))

    @classmethod
    def tearDownClass(cls):
        for client in (cls.source, cls.target, cls.other):
            client.close()
        for process, log in cls.servers:
            stop_liger_serve(process)
            log.close()
        cls.scratch.cleanup()

    def test_a_moved_session_continues_exactly_like_the_unmoved_one(self):
        session = self.source.create_session().session_id
        turn(self.source, session, FIRST_TURN)
        unmoved = self.source.fork_session(session).session_id
        exported = self.source.export_session(session)
        self.assertGreater(len(exported), 0)

        with self.assertRaises(errors.NotFoundError):  # never a silent fresh start
            turn(self.target, session, SECOND_TURN)
        moved = self.target.import_session(exported)
        self.assertEqual(moved.session_id, session)
        self.assertEqual(moved.tokens, self.source.get_session(session).tokens)
        self.source.delete_session(session)

        self.assertEqual(turn(self.target, session, SECOND_TURN),
                         turn(self.source, unmoved, SECOND_TURN))
        with self.assertRaises(errors.AlreadyExistsError):
            self.target.import_session(exported)
        self.target.delete_session(session)
        self.source.delete_session(unmoved)

    def test_damaged_and_mismatched_exports_are_refused(self):
        session = self.source.create_session().session_id
        turn(self.source, session, FIRST_TURN)
        exported = self.source.export_session(session)
        before = len(self.target.list_sessions())
        for position in (0, 20, len(exported) // 2, len(exported) - 1):
            damaged = bytearray(exported)
            damaged[position] ^= 0x01
            with self.assertRaises(errors.DataLossError, msg=f"byte {position}"):
                self.target.import_session(bytes(damaged))
        with self.assertRaises(errors.DataLossError):
            self.target.import_session(exported[:-100])
        with self.assertRaises(errors.DataLossError):
            self.target.import_session(b"")
        # The same name, but not the model that made the state.
        with self.assertRaises(errors.FailedPreconditionError):
            self.other.import_session(exported)
        self.assertEqual(len(self.target.list_sessions()), before)
        self.assertEqual(self.other.list_sessions(), [])
        self.source.delete_session(session)


if __name__ == "__main__":
    unittest.main()
