// A finished pod's namespaces are really freed while another pod keeps running — the mount
// propagation trap: a container started while another pod's pins were mounted gets copies of
// those pins in its own mount namespace, and if they survive there, the other pod's network,
// IPC and UTS namespaces live on after it is gone. The order is forced with gate files:
// pod B (finisher) is pinned first, then pod A's (keeper's) container starts, then B ends.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { e2eSkip, importBusybox, namespaceReferences, podd, waitFor, writeManifest, type Env } from "./harness.ts";
import { allSeen, assertNothingLeft, inEnv, nsOf, ownReferences, pid1Of, readProc, podRunDir, processTree, said, watchNamespaces } from "./pod-helpers.ts";

const skip = e2eSkip();

function manifests(env: Env, image: string): string[] {
  const gate = join(env.dir, "gate");
  mkdirSync(gate);
  // /run: a path that exists in both roots (the host's, read-only, has no /gate to mount on)
  const waitFor = (file: string) => `until [ -e /run/gate/${file} ]; do sleep 0.02; done`;
  const volume = `
  volumes:
    - name: gate
      hostPath: {path: ${gate}, type: Directory}`;
  const mount = `volumeMounts: [{name: gate, mountPath: /run/gate}]`;
  return [
    writeManifest(env, "finisher.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: finisher}
spec:
  restartPolicy: Never
  containers:
    - name: c
      image: ${image}
      command: ["sh", "-c", "${waitFor("go")}"]
      ${mount}
${volume}
`),
    writeManifest(env, "keeper.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: keeper}
spec:
  restartPolicy: Always
  terminationGracePeriodSeconds: 1
  initContainers:
    - name: wait-for-finisher
      image: ${image}
      command: ["sh", "-c", "${waitFor("finisher-pinned")}"]
      ${mount}
  containers:
    - name: sleeper
      image: ${image}
      command: ["sleep", "3600"]
${volume}
`),
  ];
}

function mountinfo(pid: number): string {
  return readFileSync(`/proc/${pid}/mountinfo`, "utf8");
}

async function finishedPodIsFreed(env: Env, image: string): Promise<void> {
  if (image !== "host") await importBusybox(env);
  const files = manifests(env, image);
  const watch = watchNamespaces(env);
  let trap: ChildProcess | undefined;
  const run = podd(["run", ...files.flatMap((f) => ["-f", f]), ...env.flags]);
  try {
    const finisherDir = await waitFor("the finisher's pins", () => podRunDir(env, "finisher"));
    const key = finisherDir.split("/").pop()!;
    const finisherNs = await waitFor("all three pins of the finisher", () => {
      const s = watch.seen.get(key);
      return s && s.size === 3 && [...s];
    });
    writeFileSync(join(env.dir, "gate", "finisher-pinned"), "");
    // The keeper's container starts only now, while the finisher's pins are mounted.
    const pid1 = await waitFor("the keeper's sleeper", () => {
      const p = pid1Of(env, "keeper", "sleeper");
      return p !== undefined && processTree(p).some((q) => q.comm === "sleep") && p;
    });
    // Control: while the finisher runs, its namespaces are referenced (its pins, its
    // container), so the check below can see a reference when there is one.
    assert.notDeepEqual(namespaceReferences(finisherNs), [], "the finisher's namespaces are in use while it runs");

    // Control: a process of ours in a private copy of the host's mount namespace, made now,
    // holds copies of the finisher's pins, and the scan of every mountinfo finds them there.
    // (Removing the pin files later detaches such copies too: the kernel lazily unmounts a
    // mount point that is unlinked in another namespace. So nothing may survive anywhere.)
    trap = spawn("unshare", ["--mount", "--propagation", "private", "sleep", "3600"], { stdio: "ignore" });
    const trapPid = trap.pid!;
    await waitFor("the control's private mount namespace", () => readProc(trapPid)?.comm === "sleep" && nsOf(trapPid, "mnt") !== nsOf(process.pid, "mnt"));
    assert.ok(ownReferences(env, finisherNs).some((h) => h.startsWith(`pid ${trapPid} has a mount of`)), "the control holds copies of the pins");

    writeFileSync(join(env.dir, "gate", "go"), "");
    await waitFor("the finisher's sandbox to go", () => podRunDir(env, "finisher") === undefined);
    // The keeper still runs ...
    const keeper = processTree(pid1);
    assert.ok(keeper.some((p) => p.comm === "sleep"), "the keeper's sleep still runs");
    // ... and holds no copy of the finisher's pins, nor does anything else.
    for (const p of keeper) {
      for (const id of finisherNs) assert.ok(!mountinfo(p.pid).includes(id), `the keeper's pid ${p.pid} has a mount of ${id}`);
    }
    assert.deepEqual(ownReferences(env, finisherNs), [], "the finisher's namespaces after it ended");
    assert.ok(readProc(trapPid), "the control is still running");
    // Nor any mount point in podd's run root inside the keeper (a host-root container sees
    // the host's mounts, but the run root is hidden).
    const points = mountinfo(pid1).split("\n").map((l) => l.split(" ")[4] ?? "");
    assert.deepEqual(points.filter((p) => p.startsWith(env.run)), [], "the keeper's mount points in the run root");
    // Control: the keeper's own namespaces, unlike the finisher's, are found.
    const keeperNs = [...watch.seen.entries()].filter(([k]) => k !== key).flatMap(([, s]) => [...s]);
    assert.equal(keeperNs.length, 3);
    assert.notDeepEqual(namespaceReferences(keeperNs), []);
  } finally {
    trap?.kill("SIGKILL");
    run.child.kill("SIGTERM");
    watch.stop();
  }
  const r = await run;
  assert.equal(r.code, 143, said(r));
  assertNothingLeft(env, allSeen(watch));
}

describe("a finished pod's namespaces are freed while another pod runs", { skip }, () => {
  test("image: host", () => inEnv((env) => finishedPodIsFreed(env, "host")));
  test("a busybox image", () => inEnv((env) => finishedPodIsFreed(env, "busybox:local")));
});
