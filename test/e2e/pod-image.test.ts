// A container on an imported image (Debian's static busybox): an overlay of the image and a
// writable layer of the container's own under the state root. Writes land in that layer only,
// go with it on a restart and after the pod, and never reach the image. readOnlyRootFilesystem
// makes the root read-only; a missing image holds the container in Waiting.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { e2eSkip, importBusybox, podd, waitFor, writeManifest, type Env } from "./harness.ts";
import { allSeen, assertNothingLeft, inEnv, runManifest, said, shCommand, valuesOf, watchNamespaces } from "./pod-helpers.ts";

const skip = e2eSkip();

/** Every path under dir with its type, size and mtime: enough to see any change. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = statSync(p, { throwIfNoEntry: false });
      out.push(`${p} ${e.isDirectory() ? "d" : e.isSymbolicLink() ? "l" : "f"} ${st?.size} ${st?.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

function podStateDir(env: Env, pod: string): string | undefined {
  const pods = join(env.state, "pods");
  const d = existsSync(pods) ? readdirSync(pods).find((p) => p.split("_")[1] === pod) : undefined;
  return d && join(pods, d);
}

describe("a container on an imported image", { skip }, () => {
  test("runs on overlayfs; writes land in its own layer, vanish on restart and with the pod, never in the image", () =>
    inEnv(async (env) => {
      await importBusybox(env);
      const images = join(env.state, "images");
      const before = snapshot(images);
      const script = `
        echo "root=$(grep ' / / ' /proc/self/mountinfo | sed 's/.* - //' | cut -d' ' -f1)"
        if [ -e /data/first-run-done ]; then
          echo "second-run marker=$([ -e /etc/marker ] && echo present || echo absent)"
          exit 0
        fi
        echo from-first-run > /etc/marker
        touch /data/first-run-done
        until [ -e /data/go ]; do usleep 10000; done
        exit 1
      `;
      const file = writeManifest(env, "layered.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: layered}
spec:
  restartPolicy: OnFailure
  volumes: [{name: data, emptyDir: {}}]
  containers:
    - name: c
      image: busybox:local
      command: ${shCommand(script)}
      volumeMounts: [{name: data, mountPath: /data}]
`);
      const watch = watchNamespaces(env);
      const run = podd(["run", "-f", file, ...env.flags, "--backoff-initial", "100ms"]);
      try {
        const dir = await waitFor("the pod's state dir", () => podStateDir(env, "layered"));
        const marker = join(dir, "layers", "c", "upper", "etc", "marker");
        // The shell creates the marker before it writes it; the done file comes after both.
        await waitFor("the first run's write in its layer", () => existsSync(join(dir, "volumes", "data", "first-run-done")));
        assert.equal(readFileSync(marker, "utf8"), "from-first-run\n");
        assert.ok(!snapshot(images).some((l) => l.includes("marker")) && !before.some((l) => l.includes("marker")));
        writeFileSync(join(dir, "volumes", "data", "go"), "");
      } finally {
        watch.stop();
      }
      const r = await run;
      assert.equal(r.code, 0, said(r));
      const v = valuesOf(r, "layered", "c");
      assert.equal(v.get("root"), "overlay");
      assert.equal(v.get("second-run marker"), "absent", "the restart got a fresh layer");
      assert.equal(r.stderr.match(/container\/c Started/g)?.length, 2, "one restart");
      assert.equal(podStateDir(env, "layered"), undefined, "the layer goes with the pod");
      assert.deepEqual(snapshot(images), before, "the image is unchanged");
      assertNothingLeft(env, allSeen(watch));
    }));

  test("readOnlyRootFilesystem: the root is read-only, volumes stay writable", () =>
    inEnv(async (env) => {
      await importBusybox(env);
      const script = `
        touch /probe 2>/dev/null && echo "root=writable" || echo "root=read-only"
        touch /data/probe && echo "volume=writable" || echo "volume=read-only"
      `;
      const r = await runManifest(env, "ro.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: ro}
spec:
  restartPolicy: Never
  volumes: [{name: data, emptyDir: {}}]
  containers:
    - name: locked
      image: busybox:local
      securityContext: {readOnlyRootFilesystem: true}
      command: ${shCommand(script)}
      volumeMounts: [{name: data, mountPath: /data}]
    - name: control
      image: busybox:local
      command: ${shCommand(script)}
      volumeMounts: [{name: data, mountPath: /data}]
`);
      assert.equal(r.code, 0, said(r));
      assert.equal(valuesOf(r, "ro", "locked").get("root"), "read-only");
      assert.equal(valuesOf(r, "ro", "locked").get("volume"), "writable");
      assert.equal(valuesOf(r, "ro", "control").get("root"), "writable");
      assertNothingLeft(env, r.namespaces);
    }));

  test("a missing image with imagePullPolicy Never leaves the container Waiting with ErrImageNeverPull", () =>
    inEnv(async (env) => {
      const r = await runManifest(env, "missing.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: missing}
spec:
  restartPolicy: Never
  containers:
    - name: c
      image: x:1
      imagePullPolicy: Never
      command: ["true"]
`, ["-o", "json", "--timeout", "3s"]);
      assert.equal(r.code, 124, said(r));
      const list = JSON.parse(r.stdout) as { items: { status: { phase: string; containerStatuses: { state: { waiting?: { reason: string; message: string } } }[] } }[] };
      const status = list.items[0]!.status;
      // stopped for good before it could start: Failed, as the kubelet ends a deleted pod
      assert.equal(status.phase, "Failed");
      assert.deepEqual(status.containerStatuses[0]!.state.waiting, {
        reason: "ErrImageNeverPull",
        message: 'Container image "x:1" is not present with pull policy of Never',
      });
      assert.match(r.stderr, /pod\/missing container\/c ErrImageNeverPull: Container image "x:1" is not present with pull policy of Never/);
      assertNothingLeft(env, r.namespaces);
    }));
});
