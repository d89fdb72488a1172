// What a pod's containers share and what they do not: one network, IPC and UTS namespace and
// one /dev/shm per pod, but each container its own PID and mount namespace; different pods
// share nothing, and hostNetwork/hostIPC pods use the host's namespaces. Every run ends with
// nothing left and the pods' namespaces referenced nowhere.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readlinkSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { e2eSkip, hostFixture, hostFixtureMount, hostFixtureVolume, importBusybox, writeManifest } from "./harness.ts";
import { assertNothingLeft, inEnv, fixtureNs, linesOf, runManifest, runPods, said, valuesOf } from "./pod-helpers.ts";

const skip = e2eSkip();

describe("pod namespaces", { skip }, () => {
  test("containers of a pod share net, ipc, uts and /dev/shm, but not PIDs or mounts", () => inEnv(async (env) => {
    await importBusybox(env);
    // a listens on the pod's loopback and makes a SysV segment; b, in the other container,
    // waits for a's marker in the shared /dev/shm, finds the segment, and connects.
    const r = await runManifest(env, "share.yaml", `
apiVersion: v1
kind: Pod
metadata: {name: share}
spec:
  restartPolicy: Never
  containers:
    - name: a
      image: busybox:local
      command:
        - sh
        - -c
        - |
          echo only-a > /tmp/only-a
          podd-fixture shm-make 4242 > /dev/shm/shm-of-a
          echo "pid=$$$$"
          echo "pid1=$$(cat /proc/1/comm)"
          echo "hostname=$$(hostname)"
          podd-fixture ns-ids
          touch /dev/shm/ready
          # an attempt of b's can arrive empty (connected as the listener came up): listen again
          while :; do got=$$(nc -l -p 7777); [ -n "$$got" ] && break; done
          touch /dev/shm/ack
          echo "got=$$got"
    - name: b
      image: busybox:local
      command:
        - sh
        - -c
        - |
          until [ -e /dev/shm/ready ]; do usleep 10000; done
          echo "seen-in-shm=$$(cat /dev/shm/shm-of-a)"
          echo "found-by-key=$$(podd-fixture shm-find 4242)"
          echo "tmp-of-a=$$(cat /tmp/only-a 2>&1)"
          echo "pid=$$$$"
          echo "pid1=$$(cat /proc/1/comm)"
          echo "comms=$$(cat /proc/[0-9]*/comm | sort -u | tr '\\n' ' ')"
          echo "hostname=$$(hostname)"
          podd-fixture ns-ids
          until [ -e /dev/shm/ack ]; do echo hello-from-b | nc 127.0.0.1 7777; usleep 10000; done
`);
    assert.equal(r.code, 0, said(r));
    const a = valuesOf(r, "share", "a");
    const b = valuesOf(r, "share", "b");
    // network: b reached a's listener on 127.0.0.1
    assert.equal(a.get("got"), "hello-from-b");
    // IPC: the segment a made is found by key in b, with the same id
    assert.match(b.get("seen-in-shm") ?? "", /^shm \d+$/);
    assert.equal(b.get("found-by-key"), b.get("seen-in-shm"));
    // UTS: the pod's name, in both
    assert.equal(a.get("hostname"), "share");
    assert.equal(b.get("hostname"), "share");
    // PIDs: each shell is PID 2 under its own podd-init, and b sees none of a's processes
    assert.equal(a.get("pid"), "2");
    assert.equal(b.get("pid"), "2");
    assert.equal(a.get("pid1"), "podd-init");
    assert.equal(b.get("pid1"), "podd-init");
    assert.doesNotMatch(b.get("comms") ?? "", /\bnc\b/);
    // mounts: a's /tmp is a's alone
    assert.match(b.get("tmp-of-a") ?? "", /No such file or directory/);
    const nsA = fixtureNs(linesOf(r, "share", "a"));
    const nsB = fixtureNs(linesOf(r, "share", "b"));
    for (const kind of ["net", "ipc", "uts"]) assert.equal(nsA[kind], nsB[kind], kind);
    for (const kind of ["pid", "mnt"]) assert.notEqual(nsA[kind], nsB[kind], kind);
    assert.deepEqual(new Set(r.namespaces), new Set([nsA.net, nsA.ipc, nsA.uts]), "the pins are the namespaces the containers were in");
    assertNothingLeft(env, r.namespaces);
  }));

  test("two pods get different net, ipc and uts namespaces; hostNetwork and hostIPC get the host's", () => inEnv(async (env) => {
    const pod = (name: string, spec: string) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  restartPolicy: Never
${spec}
  volumes: [${hostFixtureVolume}]
  containers:
    - name: c
      image: host
      volumeMounts: [${hostFixtureMount}]
      command: ["sh", "-c", "${hostFixture} ns-ids; echo hostname=$$(hostname); echo lo=$$(${hostFixture} lo-flags); echo shm=$$(stat -c '%d %i' /dev/shm)"]
`;
    const files = [
      writeManifest(env, "one.yaml", pod("one", "  hostname: custom-name")),
      writeManifest(env, "two.yaml", pod("two", "")),
      writeManifest(env, "hostns.yaml", pod("hostns", "  hostNetwork: true\n  hostIPC: true")),
    ];
    const r = await runPods(env, files);
    assert.equal(r.code, 0, said(r));
    const one = fixtureNs(linesOf(r, "one", "c"));
    const two = fixtureNs(linesOf(r, "two", "c"));
    const hostns = fixtureNs(linesOf(r, "hostns", "c"));
    const host = (kind: string) => readlinkSync(`/proc/self/ns/${kind}`);
    for (const kind of ["net", "ipc", "uts"]) {
      assert.ok(one[kind] && two[kind], `${kind} ids printed`);
      assert.notEqual(one[kind], two[kind], `${kind}: two pods share nothing`);
      assert.notEqual(one[kind], host(kind), `${kind}: a pod is not in the host's`);
    }
    // hostNetwork (and with it the host's UTS namespace, as on a Kubernetes node) and hostIPC
    assert.equal(hostns.net, host("net"));
    assert.equal(hostns.ipc, host("ipc"));
    assert.equal(hostns.uts, host("uts"));
    assert.equal(valuesOf(r, "hostns", "c").get("hostname"), hostname());
    // hostIPC: the host's /dev/shm too (POSIX shared memory); a pod's own is not the host's
    const hostShm = statSync("/dev/shm");
    assert.equal(valuesOf(r, "hostns", "c").get("shm"), `${hostShm.dev} ${hostShm.ino}`);
    assert.notEqual(valuesOf(r, "two", "c").get("shm"), `${hostShm.dev} ${hostShm.ino}`);
    // spec.hostname wins over the pod name
    assert.equal(valuesOf(r, "one", "c").get("hostname"), "custom-name");
    assert.equal(valuesOf(r, "two", "c").get("hostname"), "two");
    // a pod's own network has its loopback up (IFF_UP = 1)
    assert.equal(Number(valuesOf(r, "two", "c").get("lo")) & 1, 1);
    // only the two pods with their own namespaces pinned any
    assert.equal(r.namespaces.length, 6, `pinned: ${r.namespaces.join(" ")}`);
    for (const id of [one.net, one.ipc, one.uts, two.net, two.ipc, two.uts]) assert.ok(r.namespaces.includes(id!), `${id} was pinned`);
    assertNothingLeft(env, r.namespaces);
  }));
});
