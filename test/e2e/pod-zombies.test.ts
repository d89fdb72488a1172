// No zombies: a workload whose main command never waits leaves its orphans to the container's
// PID 1 (podd-init), which reaps them, so once it settles no process of the container is in
// state Z. The control is a command that makes children and never reaps them itself: their
// zombies stay (no init may reap another process's children), which shows the scan sees them.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { e2eSkip, hostFixture, hostFixtureMount, hostFixtureVolume, podd, waitFor, writeManifest, type Env } from "./harness.ts";
import { allSeen, assertNothingLeft, inEnv, pid1Of, processTree, said, watchNamespaces } from "./pod-helpers.ts";

const skip = e2eSkip();

function pod(name: string, command: string[]): string {
  return `
apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  volumes: [${hostFixtureVolume}]
  containers:
    - name: c
      image: host
      volumeMounts: [${hostFixtureMount}]
      command: ${JSON.stringify(command)}
`;
}

/** The container log of a pod's container c, as text (CRI lines). */
function logOf(env: Env, podName: string): string {
  const pods = join(env.log, "pods");
  try {
    const d = readdirSync(pods).find((p) => p.split("_")[1] === podName);
    return d ? readFileSync(join(pods, d, "c", "0.log"), "utf8") : "";
  } catch {
    return ""; // not written yet
  }
}

describe("no zombies in a container", { skip }, () => {
  test("orphans are reaped by PID 1; unreaped children of the command are the control", () =>
    inEnv(async (env) => {
      const files = [
        writeManifest(env, "orphans.yaml", pod("orphans", [hostFixture, "orphans", "20"])),
        // a shell whose backgrounded grandchildren outlive their parent subshells
        writeManifest(env, "shell.yaml", pod("shell", ["sh", "-c", "(sleep 0.3 &); (sleep 0.3 &); (sleep 0.3 &); exec sleep 3600"])),
        writeManifest(env, "zombies.yaml", pod("zombies", [hostFixture, "zombies", "5"])),
      ];
      const watch = watchNamespaces(env);
      const run = podd(["run", ...files.flatMap((f) => ["-f", f]), ...env.flags]);
      try {
        const pid1 = (name: string) => waitFor(`${name}'s PID 1`, () => pid1Of(env, name, "c"));
        const tree = async (name: string) => processTree(await pid1(name));
        const zombies = async (name: string) => (await tree(name)).filter((p) => p.state === "Z");

        await waitFor("the orphans' release", () => logOf(env, "orphans").includes("released 20"));
        // Settled: only PID 1 and the command are left, none of them a zombie.
        const settled = await waitFor("the orphans to be reaped", async () => {
          const t = await tree("orphans");
          return t.length === 2 && t;
        });
        assert.deepEqual(settled.map((p) => [p.comm, p.state === "Z"]), [["podd-init", false], ["podd-fixture", false]]);

        await waitFor("the shell's grandchildren to be reaped", async () => {
          const t = await tree("shell");
          return t.length === 2 && t.every((p) => p.state !== "Z") && t.map((p) => p.comm).join(" ") === "podd-init sleep";
        });

        // Control: the fixture's own children, which it never waits for, stay zombies.
        await waitFor("the control's ready", () => logOf(env, "zombies").includes("ready"));
        const z = await waitFor("the control's zombies", async () => {
          const found = await zombies("zombies");
          return found.length === 5 && found;
        });
        assert.ok(z.every((p) => p.comm === "podd-fixture"));
        assert.deepEqual(await zombies("orphans"), []);
      } finally {
        run.child.kill("SIGTERM");
        watch.stop();
      }
      const r = await run;
      assert.equal(r.code, 143, said(r));
      assertNothingLeft(env, allSeen(watch));
    }));
});
