// Static pods: the files in --manifests DIR define pods, as the kubelet's --pod-manifest-path.
// Adding a file creates its pods, changing it replaces them, removing it deletes them; an
// invalid file is reported with file:line:col in the daemon's log and changes nothing — not
// even the pods an earlier, valid version of the same file created.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { destroyEnv, e2eSkip, importBusybox, leftovers, makeEnv, waitFor, type Env } from "./harness.ts";
import { desiredFiles, getPod, startDaemon, stopDaemon, waitGone, waitRunning, type Daemon } from "./daemon-helpers.ts";

const skip = e2eSkip();

function manifest(name: string, value: string): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: c
      image: busybox:local
      command: [sleep, "1000"]
      env:
        - {name: V, value: "${value}"}
`;
}

/** Writes a manifest as an editor would: to a temp name, then renamed into place. */
function put(dir: string, file: string, text: string): void {
  writeFileSync(join(dir, `.${file}.tmp`), text);
  renameSync(join(dir, `.${file}.tmp`), join(dir, file));
}

async function uids(d: Daemon): Promise<Record<string, string>> {
  const items = (await d.request("GET", "/api/v1/pods")).json.items as any[];
  return Object.fromEntries(items.map((p) => [p.metadata.name, p.metadata.uid]));
}

describe("static pods", { skip, timeout: 120_000 }, () => {
  let env: Env | undefined;
  let d: Daemon | undefined;
  after(async () => {
    await stopDaemon(d, "SIGKILL");
    if (env) destroyEnv(env);
  });

  test("files in --manifests are watched: add, change, invalid, remove", async () => {
    env = makeEnv();
    await importBusybox(env);
    const dir = join(env.dir, "manifests");
    mkdirSync(dir);
    // One file present at start.
    put(dir, "a.yaml", manifest("static-a", "1"));
    d = await startDaemon(env, ["--manifests", dir]);
    await waitRunning(d, "static-a", "c");
    const a1 = await getPod(d, "static-a");
    assert.equal(a1.metadata.annotations["kubernetes.io/config.source"], "file");

    // Added: a file with two pods.
    put(dir, "b.yaml", manifest("static-b1", "1") + "---\n" + manifest("static-b2", "1"));
    await waitRunning(d, "static-b1", "c");
    await waitRunning(d, "static-b2", "c");

    // Changed: static-a is replaced (new uid), the others untouched.
    const before = await uids(d);
    put(dir, "a.yaml", manifest("static-a", "2"));
    await waitFor("static-a replaced", async () => {
      const p = await getPod(d!, "static-a");
      return p && p.metadata.uid !== a1.metadata.uid && p.status.containerStatuses?.[0]?.state?.running;
    });
    const afterChange = await uids(d);
    assert.equal(afterChange["static-b1"], before["static-b1"]);
    assert.equal(afterChange["static-b2"], before["static-b2"]);

    // Invalid: a new broken file, and a broken edit of a.yaml. Both reported with
    // file:line:col; nothing is created, replaced or deleted.
    put(dir, "c.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: static-c\nspec:\n  containers:\n    - name: c\n      image: busybox:local\n      bogusField: 1\n");
    await waitFor("c.yaml reported", () => new RegExp(`${join(dir, "c.yaml")}:9:\\d+`).test(d!.output()) || undefined);
    put(dir, "a.yaml", manifest("static-a", "3").replace("containers:", "containers: [oops"));
    await waitFor("a.yaml reported", () => new RegExp(`${join(dir, "a.yaml")}:\\d+:\\d+`).test(d!.output()) || undefined);
    // Control for "nothing changed": a valid change in another file is picked up after them.
    put(dir, "d.yaml", manifest("static-d", "1"));
    await waitRunning(d, "static-d", "c");
    const afterInvalid = await uids(d);
    assert.equal(afterInvalid["static-a"], afterChange["static-a"], "a broken edit replaced or deleted static-a");
    assert.equal(afterInvalid["static-c"], undefined, "a pod of an invalid file was created");
    assert.equal(afterInvalid["static-b1"], before["static-b1"]);

    // Removed: b.yaml's pods go; fixing a.yaml back to its current content changes nothing.
    rmSync(join(dir, "b.yaml"));
    await waitGone(d, "static-b1");
    await waitGone(d, "static-b2");
    put(dir, "a.yaml", manifest("static-a", "2"));
    rmSync(join(dir, "c.yaml"));
    rmSync(join(dir, "d.yaml"));
    await waitGone(d, "static-d");
    assert.equal((await uids(d))["static-a"], afterChange["static-a"]);

    // Everything removed: nothing left, no desired files.
    rmSync(join(dir, "a.yaml"));
    await waitGone(d, "static-a");
    assert.deepEqual(leftovers(env), { mounts: [], cgroups: [], processes: [], pins: [] });
    assert.deepEqual(desiredFiles(env), []);
    await stopDaemon(d);
  });

  test("a static file's ConfigMap and Secret go with its pod: made before it, changed in place, removed with the file", async () => {
    const e = makeEnv();
    let daemon: Daemon | undefined;
    try {
      await importBusybox(e);
      const dir = join(e.dir, "manifests");
      mkdirSync(dir);
      const file = (color: string) => `apiVersion: v1
kind: Pod
metadata: {name: uses-config}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: busybox:local, command: [sleep, "1000"], env: [{name: PASSWORD, valueFrom: {secretKeyRef: {name: s, key: password}}}], volumeMounts: [{name: v, mountPath: /cfg}]}
  volumes: [{name: v, configMap: {name: cfg}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {color: ${color}}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {password: pw}
`;
      put(dir, "app.yaml", file("red"));
      daemon = await startDaemon(e, ["--manifests", dir]);
      const dd = daemon;
      await waitRunning(dd, "uses-config", "c");
      const cm = () => dd.request("GET", "/api/v1/namespaces/default/configmaps/cfg");
      assert.equal((await cm()).json.data.color, "red");
      assert.equal((await cm()).json.metadata.annotations["podd.io/manifest"], join(dir, "app.yaml"));
      const uid = (await getPod(dd, "uses-config")).metadata.uid;
      put(dir, "app.yaml", file("blue"));
      await waitFor("the ConfigMap changed", async () => (await cm()).json.data?.color === "blue" || undefined);
      // The pod's spec did not change: it is the same pod, its volume updated in place.
      assert.equal((await getPod(dd, "uses-config")).metadata.uid, uid);
      rmSync(join(dir, "app.yaml"));
      await waitGone(dd, "uses-config");
      await waitFor("the ConfigMap gone", async () => (await cm()).status === 404 || undefined);
      assert.equal((await dd.request("GET", "/api/v1/namespaces/default/secrets/s")).status, 404);
    } finally {
      await stopDaemon(daemon, "SIGKILL");
      destroyEnv(e);
    }
  });
});
