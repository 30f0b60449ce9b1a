"""Reload soak, bounded: forced hot reloads of every module under mixed Matrix load (dev build).

The short version of bench/reload/soak.sh, with the same driver (bench/reload/soak_load.py):
senders, long-polling syncers and login/logout cyclers run the whole time while the admin user
posts `!admin modules reload NAME` in the admin room, RELOADS times for each of database, service,
api and admin (the variant and the original build of service, api and admin installed in turn
before each). Asserted: every reload is reported `reloaded ... (NAME and its dependents) ...;
0 requests failed`; no request of the load failed; every acknowledged event reached every syncer
and is in /messages once; each admin command was answered once; after each reload exactly one
shadow copy of each module, of its current generation, is mapped and none is deleted-but-mapped;
with the load stopped, descriptors (other than RocksDB's files), threads and mapped files are the
same after each module's reloads as after the warm-up; the server stops cleanly. RSS is printed,
not asserted. Usage: reload_soak_test.py BUILD_DIR
"""

import os
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench", "reload"))
from server import ModuleDir, Server  # noqa: E402
import soak_load  # noqa: E402

BUILD = os.path.abspath(sys.argv.pop(1) if len(sys.argv) > 1 else "build/dev")
RELOADS = 10


class ReloadSoakTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(os.path.join(BUILD, "bin", "conclave"), env={
            # The load must never see a 429.
            "CONCLAVE_RC_MESSAGE_PER_SECOND": "0",
            "CONCLAVE_RC_LOGIN_PER_SECOND": "0",
            "CONCLAVE_RC_REGISTRATION_PER_SECOND": "0",
        })
        self.modules = ModuleDir(self.server, BUILD)
        # NAME/libconclave_NAME.so (the variant) and NAME/original.so, as soak.sh lays them out.
        self.variants = os.path.join(self.server.workdir, "variants")
        for m in soak_load.MODULES:
            variant = os.path.join(BUILD, "variants", m, f"libconclave_{m}.so")
            if os.path.exists(variant):
                os.makedirs(os.path.join(self.variants, m))
                shutil.copyfile(variant, os.path.join(self.variants, m, f"libconclave_{m}.so"))
                shutil.copyfile(os.path.join(BUILD, "lib", f"libconclave_{m}.so"),
                                os.path.join(self.variants, m, "original.so"))
        self.server.start()

    def tearDown(self):
        self.server.cleanup()

    def test_reloads_of_each_module_under_mixed_load(self):
        soak = soak_load.Soak(
            self.server.port, self.server.proc.pid, self.server.log_path,
            self.server.env["CONCLAVE_RUNTIME_DIR"], self.modules.path, self.variants,
            database_dir=self.server.env["CONCLAVE_DATABASE_PATH"], reloads=RELOADS,
            interval=0.05, settle=0.5, warmup=1.0, send_interval=0.03, senders=3, syncers=3,
            loginers=1, rooms=2, out=sys.stderr)
        ok = soak.run()
        print("\n" + soak.summary(), file=sys.stderr)
        self.assertEqual(soak.problems, [], "\n".join(soak.problems[:20]))
        self.assertTrue(ok)

        # The figures behind the verdict, so that a broken driver cannot pass silently.
        self.assertEqual([p["name"] for p in soak.phases], ["warm-up", *soak_load.MODULES])
        for phase in soak.phases[1:]:
            results = phase["results"]
            self.assertEqual(len(results), RELOADS)
            self.assertTrue(all(r["ok"] for r in results), phase["name"])
            self.assertEqual(sum(r["failed"] for r in results), 0)
            self.assertEqual(phase["load"].stats.total_failed(), 0)
            self.assertGreater(phase["load"].acked, 0)
            self.assertGreater(phase["load"].stats.ok["sync"], 0)
            self.assertGreater(phase["load"].stats.ok["login"], 0)
            self.assertEqual(phase["lost_by_sync"], 0)
            self.assertEqual(phase["snapshot"].fd_not_database,
                             soak.phases[0]["snapshot"].fd_not_database)
        # database reloads everything (media and federation with service's dependents); admin
        # reloads only itself.
        self.assertEqual(soak.phases[1]["results"][0]["reloaded"],
                         ["database", "service", "api", "media", "federation", "admin"])
        self.assertEqual(soak.phases[4]["results"][0]["reloaded"], ["admin"])
        self.assertEqual(soak.lost, 0)
        self.assertGreater(sum(len(v) for v in soak.world.acked.values()), 0)
        # Generation 1 at start, then one per reload of the module or of a module it depends on
        # (warm-up: one reload of each; api, media, federation and admin depend on service, not on
        # each other, and media and federation have no phase of their own).
        expected = {"database": 2 + RELOADS, "service": 3 + 2 * RELOADS,
                    "api": 4 + 3 * RELOADS, "admin": 4 + 3 * RELOADS, "media": 3 + 2 * RELOADS,
                    "federation": 3 + 2 * RELOADS}
        self.assertEqual(soak.reloader.generation, expected)

        self.assertEqual(self.server.stop(), 0)
        self.assertIn("stopped cleanly", self.server.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
