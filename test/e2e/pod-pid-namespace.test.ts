// shareProcessNamespace: one PID namespace for the pod, whose PID 1 is a podd-init that only
// reaps; each container sees the others' processes and reaches their files through
// /proc/PID/root, orphans are reaped, and the namespace (with its init) goes with the pod.
// The same with hostUsers: false, the containers in the pod's user namespace. hostPID: the host's
// PID namespace. Without either, a container sees only its own processes
// (the control).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { e2eSkip, idmapSkip, importBusybox, type Env } from "./harness.ts";
import { assertNothingLeft, inEnv, runManifest, said, shCommand, valuesOf } from "./pod-helpers.ts";

const skip = e2eSkip();

/** What the looking container prints: PID 1's name, whether it sees the other container's
 * sleep and its files, and how many zombies there are. */
const look = shCommand(`
  until [ -e /shared/ready ]; do usleep 20000; done
  echo "pid1=$(tr -d '\\0' < /proc/1/cmdline)"
  echo "parent=$PPID"
  sleeper=""
  for p in /proc/[0-9]*; do
    [ "$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)" = "sleep 300 " ] && sleeper=\${p#/proc/}
  done
  echo "sees_sleeper=\${sleeper:+yes}"
  echo "marker=$(cat /proc/$sleeper/root/tmp/marker 2>/dev/null)"
  echo "zombies=$(grep -l '^State:.Z' /proc/[0-9]*/status 2>/dev/null | wc -l)"
  echo "uid_map=$(tr -s ' ' < /proc/self/uid_map)"
  touch /shared/done
`);

/** The other container: leaves an orphaned sleep (reparented to its podd-init) and a marker in its own /tmp. */
const work = shCommand(`
  echo from-worker > /tmp/marker
  (sleep 300 &)
  (true &)
  touch /shared/ready
  until [ -e /shared/done ]; do usleep 20000; done
`);

function pod(name: string, extra: string): string {
  return `
apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  restartPolicy: Never
${extra}
  volumes: [{name: shared, emptyDir: {}}]
  containers:
    - {name: worker, image: busybox:local, command: ${work}, volumeMounts: [{name: shared, mountPath: /shared}]}
    - {name: looker, image: busybox:local, command: ${look}, volumeMounts: [{name: shared, mountPath: /shared}]}
`;
}

describe("PID namespaces a pod may share", { skip, timeout: 600_000 }, () => {
  test("shareProcessNamespace: the pod's podd-init is PID 1, the containers see and reach each other, nothing is left", () =>
    inEnv(async (env: Env) => {
      await importBusybox(env);
      const r = await runManifest(env, "shared.yaml", pod("shared", "  shareProcessNamespace: true"));
      assert.equal(r.code, 0, said(r));
      const v = valuesOf(r, "shared", "looker");
      assert.equal(v.get("pid1"), "podd-init", said(r));
      assert.notEqual(v.get("parent"), "1", "the container's own podd-init is not PID 1 here");
      assert.equal(v.get("sees_sleeper"), "yes", said(r));
      assert.equal(v.get("marker"), "from-worker", "the other container's files through /proc/PID/root");
      assert.equal(v.get("zombies"), "0");
      // The pod init and its namespace went with the pod: no process, pin or mount remains.
      assertNothingLeft(env, r.namespaces);
    }));

  test("shareProcessNamespace with hostUsers: false: the same, from inside the pod's user namespace", { skip: idmapSkip() }, () =>
    inEnv(async (env: Env) => {
      await importBusybox(env);
      const r = await runManifest(env, "shared-userns.yaml", pod("shared-userns", "  shareProcessNamespace: true\n  hostUsers: false"));
      assert.equal(r.code, 0, said(r));
      const v = valuesOf(r, "shared-userns", "looker");
      assert.match(v.get("uid_map") ?? "", /^ ?0 \d+ 65536$/, `the looker's root is not the host's: ${said(r)}`);
      assert.notEqual(v.get("uid_map")?.trim(), "0 0 4294967295");
      assert.equal(v.get("pid1"), "podd-init", said(r));
      assert.notEqual(v.get("parent"), "1");
      assert.equal(v.get("sees_sleeper"), "yes", said(r));
      assert.equal(v.get("marker"), "from-worker", "the other container's files through /proc/PID/root");
      assert.equal(v.get("zombies"), "0");
      assertNothingLeft(env, r.namespaces);
    }));

  test("control: without it, each container has a PID namespace of its own", () =>
    inEnv(async (env: Env) => {
      await importBusybox(env);
      // The looker would wait for ever for a sleeper it cannot see: the files still meet.
      const r = await runManifest(env, "own.yaml", pod("own", ""));
      assert.equal(r.code, 0, said(r));
      const v = valuesOf(r, "own", "looker");
      assert.equal(v.get("parent"), "1", "the container's podd-init is PID 1 of its own namespace");
      assert.equal(v.get("sees_sleeper"), "", said(r));
      assertNothingLeft(env, r.namespaces);
    }));

  test("hostNetwork with the pod's own IPC and PID namespaces (no UTS namespace: the host's hostname)", () =>
    inEnv(async (env: Env) => {
      await importBusybox(env);
      const r = await runManifest(env, "hostnet.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  restartPolicy: Never
  hostNetwork: true
  shareProcessNamespace: true
  containers:
    - {name: c, image: busybox:local, command: ${shCommand(`echo "pid1=$(tr -d '\\0' < /proc/1/cmdline)"; echo "host=$(hostname)"`)}}
`);
      assert.equal(r.code, 0, said(r));
      const v = valuesOf(r, "hostnet", "c");
      assert.equal(v.get("pid1"), "podd-init", said(r));
      assert.equal(v.get("host"), readFileSync("/proc/sys/kernel/hostname", "utf8").trim());
      assertNothingLeft(env, r.namespaces);
    }));

  test("hostPID: the host's processes, the host's PID 1", () =>
    inEnv(async (env: Env) => {
      await importBusybox(env);
      const r = await runManifest(env, "hostpid.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: hostpid}
spec:
  restartPolicy: Never
  hostPID: true
  containers:
    - {name: c, image: busybox:local, command: ${shCommand(`echo "pid1=$(tr '\\0' ' ' < /proc/1/cmdline)"; echo "self=$$"`)}}
`);
      assert.equal(r.code, 0, said(r));
      const v = valuesOf(r, "hostpid", "c");
      assert.equal(v.get("pid1"), readFileSync("/proc/1/cmdline", "utf8").replaceAll("\0", " "), said(r));
      assert.ok(Number(v.get("self")) > 1, "the container's shell has a host pid");
      assert.match(r.stdout + r.stderr, /HostPID/, "the widening is reported");
      assertNothingLeft(env, r.namespaces);
    }));
});
