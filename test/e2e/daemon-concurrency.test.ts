// Many clients at once, and crashes at any moment. 20 clients PUT and DELETE the same and
// different pods concurrently while a reader checks that no GET ever shows a half-created pod;
// afterwards every pod exists fully or not at all. Then a seeded loop of SIGKILLs at random
// points during applies and deletes: after the last restart every desired file parses, every
// desired pod runs, nothing runs that is not desired, and deleting everything leaves nothing.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cgroupsUnder, destroyEnv, e2eSkip, importBusybox, leftovers, makeEnv, processesOf, waitFor, type Env } from "./harness.ts";
import { seededRandom as rng } from "../seeded-random.ts";
import { crashDaemon, desiredFiles, podManifest, podPath, putPod, startDaemon, stopDaemon, waitGone, type Daemon } from "./daemon-helpers.ts";

const skip = e2eSkip();
const nothing = { mounts: [], cgroups: [], processes: [], pins: [] };

function pod(name: string, version: number) {
  return podManifest(name, {
    terminationGracePeriodSeconds: 1,
    containers: [
      { name: "a", image: "busybox:local", command: ["sleep", "1000"], env: [{ name: "V", value: String(version) }] },
      { name: "b", image: "busybox:local", command: ["sleep", "1000"] },
    ],
  });
}

/** A pod as GET shows it must be whole: a uid, a status, and a status for each container. */
function assertWhole(p: any, where: string): void {
  assert.ok(p.metadata?.uid, `${where}: no uid`);
  assert.ok(p.status?.phase, `${where}: no status: ${JSON.stringify(p)}`);
  const names = (p.status.containerStatuses ?? []).map((s: any) => s.name).sort();
  assert.deepEqual(names, ["a", "b"], `${where}: container statuses ${JSON.stringify(p.status)}`);
}

/** Everything podd keeps of a pod, by uid: run dirs, cgroups, processes' cgroups. */
function uidsInUse(env: Env): Set<string> {
  const uids = new Set<string>();
  const pods = join(env.run, "pods");
  if (existsSync(pods)) for (const d of readdirSync(pods)) uids.add(d.split("_")[2]!);
  for (const cg of cgroupsUnder(env)) uids.add(cg.split("/").at(-1)!);
  for (const pid of processesOf(env)) {
    try {
      const m = new RegExp(`/${env.cgroupParent}/([^/\\n]+)`).exec(readFileSync(`/proc/${pid}/cgroup`, "utf8"));
      if (m) uids.add(m[1]!);
      else {
        const dir = /run\/pods\/[^_]+_[^_]+_([0-9a-f-]+)\//.exec(readFileSync(`/proc/${pid}/cmdline`, "utf8"));
        if (dir) uids.add(dir[1]!);
      }
    } catch {
      // exited while we looked
    }
  }
  return uids;
}

/** Every desired file parses; returns the pods in them. */
function desiredPods(env: Env): any[] {
  return desiredFiles(env)
    .filter((f) => !f.split("/")[1]!.startsWith("."))
    .map((f) => {
      const text = readFileSync(join(env.state, "desired", f), "utf8");
      try {
        return JSON.parse(text);
      } catch (err) {
        throw new Error(`desired file ${f} does not parse: ${(err as Error).message}\n${text}`);
      }
    });
}

async function deleteEverything(d: Daemon, env: Env): Promise<void> {
  const list = (await d.request("GET", "/api/v1/pods")).json.items as any[];
  for (const p of list) {
    const r = await d.request("DELETE", `${podPath(p.metadata.name, p.metadata.namespace)}?gracePeriodSeconds=0`);
    assert.ok(r.status === 200 || r.status === 404, r.text);
  }
  for (const p of list) await waitGone(d, p.metadata.name, p.metadata.namespace, 60_000);
  assert.deepEqual((await d.request("GET", "/api/v1/pods")).json.items, []);
  assert.deepEqual(leftovers(env), nothing);
  assert.deepEqual(desiredFiles(env).filter((f) => !f.split("/")[1]!.startsWith(".")), [], "desired files left");
}

describe("daemon under concurrency and crashes", { skip, timeout: 180_000 }, () => {
  const envs: Env[] = [];
  const daemons: (Daemon | undefined)[] = [];
  after(async () => {
    for (const d of daemons) await stopDaemon(d, "SIGKILL");
    for (const e of envs) destroyEnv(e);
  });

  test("20 clients applying and deleting the same and different pods leave a consistent state", async () => {
    const env = makeEnv();
    envs.push(env);
    await importBusybox(env);
    const d = await startDaemon(env);
    daemons.push(d);
    const shared = ["s0", "s1", "s2"];
    const bad: string[] = [];
    let reading = true;
    // The reader: every pod any GET shows is whole, from the first moment it is visible.
    const reader = (async () => {
      let reads = 0;
      while (reading || reads === 0) {
        const list = await d.request("GET", "/api/v1/pods");
        for (const p of list.json.items) {
          try {
            assertWhole(p, `list read ${reads}`);
          } catch (err) {
            bad.push((err as Error).message);
          }
        }
        for (const n of [...shared, "own0", "own7"]) {
          const r = await d.request("GET", podPath(n));
          if (r.status === 200) {
            try {
              assertWhole(r.json, `get ${n}`);
            } catch (err) {
              bad.push((err as Error).message);
            }
          } else if (r.status !== 404) bad.push(`GET ${n}: ${r.status} ${r.text}`);
        }
        reads++;
      }
      return reads;
    })();
    const statuses = new Map<number, number>();
    const clients = Array.from({ length: 20 }, async (_, i) => {
      const random = rng(1000 + i);
      for (let step = 0; step < 6; step++) {
        const name = random() < 0.6 ? shared[Math.floor(random() * shared.length)]! : `own${i}`;
        const r = random() < 0.65 ? await putPod(d, pod(name, Math.floor(random() * 3))) : await d.request("DELETE", `${podPath(name)}?gracePeriodSeconds=0`);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        // 409: a PUT of a pod being deleted; 404: a DELETE of a pod that is not there.
        if (![200, 201, 404, 409].includes(r.status)) bad.push(`client ${i} step ${step}: ${r.status} ${r.text}`);
        if (r.status === 200 || r.status === 201) {
          try {
            assertWhole(r.json, `client ${i} step ${step} answer`);
          } catch (err) {
            bad.push((err as Error).message);
          }
        }
      }
    });
    await Promise.all(clients);
    reading = false;
    assert.ok((await reader) > 0);
    assert.deepEqual(bad, []);
    assert.ok((statuses.get(201) ?? 0) > 0 && (statuses.get(200) ?? 0) > 0, `statuses ${JSON.stringify([...statuses])}`);

    // Settled: each pod left is desired on disk (once), runs both containers, and nothing runs
    // for a pod that is not desired.
    await waitFor("every remaining pod running and every deleted one gone", async () => {
      const items = (await d.request("GET", "/api/v1/pods")).json.items as any[];
      return items.every((p) => !p.metadata.deletionTimestamp && p.status.phase === "Running" && p.status.containerStatuses.every((s: any) => s.state.running));
    }, 60_000);
    const items = (await d.request("GET", "/api/v1/pods")).json.items as any[];
    for (const p of items) assertWhole(p, "settled");
    const desired = desiredPods(env);
    assert.deepEqual(desired.map((p) => p.metadata.uid).sort(), items.map((p) => p.metadata.uid).sort());
    await waitFor("only desired pods hold anything", () => {
      const inUse = [...uidsInUse(env)].sort();
      return JSON.stringify(inUse) === JSON.stringify(items.map((p) => p.metadata.uid).sort());
    });

    await deleteEverything(d, env);
    await stopDaemon(d);
  });

  test("kill -9 at random points during applies and deletes: consistent after the last restart", async () => {
    const env = makeEnv();
    envs.push(env);
    await importBusybox(env);
    const seed = Number(process.env.PODD_CRASH_SEED ?? 20240611);
    const random = rng(seed);
    const names = ["c0", "c1", "c2", "c3"];
    let d = await startDaemon(env);
    daemons.push(d);
    for (let round = 0; round < 8; round++) {
      // A burst of operations, not awaited: the kill lands somewhere in the middle of them.
      const ops = Array.from({ length: 6 }, () => {
        const name = names[Math.floor(random() * names.length)]!;
        const op = random() < 0.6 ? putPod(d, pod(name, Math.floor(random() * 3))) : d.request("DELETE", `${podPath(name)}?gracePeriodSeconds=0`);
        return op.catch(() => undefined); // the daemon died under the request
      });
      const delayMs = Math.floor(random() * 1200);
      await new Promise((r) => setTimeout(r, delayMs)); // a random crash point, not a synchronisation
      await crashDaemon(d);
      await Promise.all(ops);
      d = await startDaemon(env);
      daemons.push(d);
    }
    // After the last restart: every desired file parses, every desired pod runs, every pod
    // being deleted goes, and nothing runs that is not desired.
    await waitFor(`(seed ${seed}) every desired pod running, every deleted pod gone`, async () => {
      const items = (await d.request("GET", "/api/v1/pods")).json.items as any[];
      return items.every((p) => !p.metadata.deletionTimestamp && p.status.phase === "Running" && (p.status.containerStatuses ?? []).every((s: any) => s.state.running));
    }, 30_000).catch(async (err: Error) => {
      const items = (await d.request("GET", "/api/v1/pods")).json.items as any[];
      const summary = items.map((p) => `${p.metadata.name} ${p.metadata.uid} deleting=${p.metadata.deletionTimestamp ?? "-"} ${p.status.phase} ${p.status.message ?? ""} ${JSON.stringify((p.status.containerStatuses ?? []).map((s: any) => s.state))}`);
      throw new Error(`${err.message}\n${summary.join("\n")}\ndaemon:\n${d.output()}`);
    });
    const items = (await d.request("GET", "/api/v1/pods")).json.items as any[];
    for (const p of items) assertWhole(p, "after the crashes");
    const desired = desiredPods(env);
    assert.deepEqual(desired.map((p) => p.metadata.uid).sort(), items.map((p) => p.metadata.uid).sort(), `seed ${seed}`);
    await waitFor(`(seed ${seed}) only desired pods hold anything`, () => {
      const inUse = [...uidsInUse(env)].sort();
      return JSON.stringify(inUse) === JSON.stringify(items.map((p) => p.metadata.uid).sort()) || undefined;
    }).catch((err: Error) => {
      throw new Error(`${err.message}: in use ${JSON.stringify([...uidsInUse(env)])}, desired ${JSON.stringify(items.map((p) => p.metadata.uid))}`);
    });
    // One container per container name: no second monitor started beside an adopted one.
    for (const p of items) {
      const cg = cgroupsUnder(env).find((c) => c.endsWith(p.metadata.uid) && c.includes("/pids/")) ?? cgroupsUnder(env).find((c) => c.endsWith(p.metadata.uid))!;
      for (const c of ["a", "b"]) {
        const procs = readFileSync(join(cg, c, "cgroup.procs"), "utf8").trim().split("\n").filter(Boolean);
        assert.equal(procs.length, 2, `seed ${seed}: pod ${p.metadata.name} container ${c} runs ${procs.length} processes (PID 1 and sleep expected)`);
      }
    }
    await deleteEverything(d, env);
    await stopDaemon(d);
  });
});
