// An idle container costs nothing: PID 1 (role 1 and role 3) and the monitor sleep in
// read/poll without a timer, so they do not wake up while the command sleeps.
import { describe, test, before } from "node:test";
import assert from "node:assert/strict";
import { FIXTURE, build, delay, needsRoot, procStatusField, startContainer, startPlainInPidNs, waitFor, withCleanup } from "./helpers.ts";

const switches = (pid: number) => Number(procStatusField(pid, "voluntary_ctxt_switches"));

describe("idle podd-init", { skip: needsRoot }, () => {
  before(build);

  test("PID 1 and the monitor do not wake up while the command sleeps", () =>
    withCleanup(async (c) => {
      const plain = await startPlainInPidNs(c, [FIXTURE, "sleep-forever"]);
      const ctr = startContainer(c, [FIXTURE, "sleep-forever"]);
      const start = await ctr.started();
      const watched = { "plain PID 1": plain.pid1, "container PID 1": start.pid1, monitor: start.monitorPid };
      const sample = () => Object.values(watched).map(switches);

      // Settle: start-up work (fsync of start.json, the exec handshake) is over once the
      // counters have not moved for 200 ms.
      let before = sample();
      let since = Date.now();
      await waitFor("counters to settle", () => {
        const now = sample();
        if (now.some((v, i) => v !== before[i])) {
          before = now;
          since = Date.now();
          return false;
        }
        return Date.now() - since >= 200;
      });
      before = sample();
      await delay(2000); // the observation window itself, not a synchronisation
      const after = sample();
      assert.deepEqual(
        Object.fromEntries(Object.keys(watched).map((k, i) => [k, after[i]! - before[i]!])),
        Object.fromEntries(Object.keys(watched).map((k) => [k, 0])),
      );
    }));
});
