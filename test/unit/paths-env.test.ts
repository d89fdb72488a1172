// PODD_ROOT, PODD_RUN_ROOT, PODD_LOG_ROOT and PODD_SOCKET stand in for the flags: the socket
// follows the run root unless PODD_SOCKET names it, and unset or empty means the default.
import assert from "node:assert/strict";
import { test } from "node:test";
import { rootsFromEnv, socketFromEnv } from "../../supervisor/base/paths.ts";
import { socketPath } from "../../supervisor/api/client.ts";
import { supervisorOptions } from "../../supervisor/cli/lib/supervisor-flags.ts";

test("roots and socket from the environment, else the defaults", () => {
  assert.deepEqual(rootsFromEnv({}), { state: "/var/lib/podd", run: "/run/podd", log: "/var/log/podd" });
  assert.deepEqual(rootsFromEnv({ PODD_ROOT: "/a", PODD_RUN_ROOT: "/b", PODD_LOG_ROOT: "" }), { state: "/a", run: "/b", log: "/var/log/podd" });
  assert.equal(socketFromEnv({}), "/run/podd/podd.sock");
  assert.equal(socketFromEnv({ PODD_RUN_ROOT: "/b" }), "/b/podd.sock");
  assert.equal(socketFromEnv({ PODD_RUN_ROOT: "/b", PODD_SOCKET: "/s.sock" }), "/s.sock");
  assert.equal(socketPath("/flag.sock", { PODD_SOCKET: "/s.sock" }), "/flag.sock", "a flag wins");
});

test("the supervisor's options take a root from the environment only where no flag names one", () => {
  process.env.PODD_INIT ??= process.execPath; // any existing file: the options check that podd-init exists
  const o = supervisorOptions({ "run-root": "/flag-run" }, { PODD_ROOT: "/env-state", PODD_RUN_ROOT: "/env-run", PODD_CGROUP_PARENT: "podd-env" });
  assert.deepEqual(o.roots, { state: "/env-state", run: "/flag-run", log: "/var/log/podd" });
  assert.equal(o.cgroupParent, "podd-env");
});
