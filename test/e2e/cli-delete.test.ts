// podd delete against a real daemon: `pod "x" deleted` once the pod is gone (get then says
// NotFound and nothing of it is left), a container that ignores SIGTERM is gone with
// --grace-period 1 and with --now, --wait=false returns while the pod still terminates, -f
// deletes a manifest's pods, and a missing pod is kubectl's NotFound.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { e2eSkip, leftovers, waitFor } from "./harness.ts";
import { getPod, waitRunning } from "./daemon-helpers.ts";
import { busybox, statusCell, withCli, type Cli } from "./cli-helpers.ts";

const skip = e2eSkip();
const nothing = { mounts: [], cgroups: [], processes: [], pins: [] };

/** A pod whose container ignores SIGTERM, with a grace period long enough never to run out here. */
async function stubborn(c: Cli, name: string): Promise<void> {
  const r = await c.apply(`${name}.yaml`, busybox(name, { command: ["podd-fixture", "ignore", "TERM"] }, { terminationGracePeriodSeconds: 600 }));
  assert.equal(r.code, 0, r.stderr);
  await waitRunning(c.d, name, "c");
  // "ready" is printed once the handler is in place: before it a SIGTERM would still kill.
  await waitFor(`${name} to ignore SIGTERM`, async () => (await c.d.request("GET", `/api/v1/namespaces/default/pods/${name}/log`)).text === "ready\n");
}

function assertGone(c: Cli, name: string): Promise<void> {
  return (async () => {
    const get = await c.run("get", ["pods", name]);
    assert.equal(get.code, 1);
    assert.equal(get.stderr, `Error from server (NotFound): pods "${name}" not found\n`);
  })();
}

describe("podd delete", { skip, timeout: 120_000 }, () => {
  test('prints pod "x" deleted after the pod is gone; then get says NotFound and nothing is left', () =>
    withCli(async (c) => {
      assert.equal((await c.apply("x.yaml", busybox("x", { command: ["sleep", "1000"] }))).code, 0);
      await waitRunning(c.d, "x", "c");
      const r = await c.run("delete", ["pod", "x"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'pod "x" deleted\n');
      assert.equal(r.stderr, "");
      // Already gone when delete returned: no wait here.
      assert.equal(await getPod(c.d, "x"), undefined);
      await assertGone(c, "x");
      assert.deepEqual(leftovers(c.env), nothing);

      const missing = await c.run("delete", ["pod", "x"]);
      assert.equal(missing.code, 1);
      assert.equal(missing.stdout, "");
      assert.equal(missing.stderr, 'Error from server (NotFound): pods "x" not found\n');
    }));

  test("a container ignoring SIGTERM is gone with --grace-period 1, and with --now", () =>
    withCli(async (c) => {
      await Promise.all([stubborn(c, "g"), stubborn(c, "n")]);
      const [g, n] = await Promise.all([c.run("delete", ["pod", "g", "--grace-period", "1"]), c.run("delete", ["pod/n", "--now"])]);
      assert.equal(g.code, 0, g.stderr);
      assert.equal(g.stdout, 'pod "g" deleted\n');
      await assertGone(c, "g");
      assert.equal(n.code, 0, n.stderr);
      assert.equal(n.stdout, 'pod "n" deleted\n');
      await assertGone(c, "n");
      assert.deepEqual(leftovers(c.env), nothing);
    }));

  test("--wait=false returns while the pod is still terminating", () =>
    withCli(async (c) => {
      await stubborn(c, "s");
      const r = await c.run("delete", ["pod", "s", "--wait=false"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'pod "s" deleted\n');
      // Its container ignores SIGTERM and has 600s of grace: it is still there, Terminating.
      const get = await c.run("get", ["pods", "s"]);
      assert.equal(get.code, 0, get.stderr);
      assert.equal(statusCell(get.stdout), "Terminating");
      assert.ok((await getPod(c.d, "s")).metadata.deletionTimestamp);
      // A second delete may shorten the grace period (as with kubectl): --now ends it.
      const now = await c.run("delete", ["pod", "s", "--now"]);
      assert.equal(now.code, 0, now.stderr);
      assert.equal(now.stdout, 'pod "s" deleted\n');
      await assertGone(c, "s");
      assert.deepEqual(leftovers(c.env), nothing);
    }));

  test("-f deletes the pods of a manifest", () =>
    withCli(async (c) => {
      const yaml = [busybox("a", { command: ["sleep", "1000"] }), busybox("b", { command: ["sleep", "1000"] })].join("\n---\n");
      const applied = await c.apply("ab.yaml", yaml);
      assert.equal(applied.stdout, "pod/a created\npod/b created\n", applied.stderr);
      await waitRunning(c.d, "a", "c");
      await waitRunning(c.d, "b", "c");
      const r = await c.run("delete", ["-f", `${c.env.dir}/ab.yaml`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'pod "a" deleted\npod "b" deleted\n');
      const list = await c.run("get", ["pods"]);
      assert.equal(list.stderr, "No resources found in default namespace.\n");
      assert.deepEqual(leftovers(c.env), nothing);
    }));
});
