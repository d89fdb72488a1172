// A container's supplementary groups as the kubelet and containerd make them: the primary gid,
// the image's /etc/group memberships of the user (Merge, the default; not Strict), fsGroup and
// supplementalGroups; the same for the command (podd-init's --groups), its hooks and podd exec;
// reported in status user.linux.
import { fakeImage } from "./fake-image.ts";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { execIdentityArgs, execSecurity, processSecurity, supplementalGroupsOf } from "../../pod-specs/security.ts";
import type { Container, Pod, PodSecurityContext } from "../../pod-specs/types.ts";
import { imageGroupsOf, readGroup, userNameOf } from "../../supervisor/runtime/passwd.ts";
import { ConfigError, MAX_SUPPLEMENTARY_GROUPS, planLaunch, type LaunchContext } from "../../supervisor/runtime/launch.ts";
import { initArgs } from "../../supervisor/runtime/container.ts";
import { containerStatus } from "../../supervisor/status/pod-status.ts";
import { newContainerRecord, recordExit, recordRunning, recordStarting } from "../../supervisor/pod/lifecycle.ts";

// The image of the Kubernetes blog's example: user 1000 is a member of group 50000.
const passwd = "root:x:0:0:root:/root:/bin/sh\nuser-defined-in-image:x:1000:1000::/home/user:/bin/sh\nother:x:1001:1001::/:/bin/sh\n";
const group = [
  "root:x:0:",
  "user-defined-in-image:x:1000:user-defined-in-image", // its own group, by name: not a supplementary one
  "group-defined-in-image:x:50000:user-defined-in-image",
  "# a comment:x:60000:user-defined-in-image",
  "wheel:x:10:root,user-defined-in-image , other",
  "bad-gid:x:abc:user-defined-in-image",
  "short:x:70000",
  "nobody-in-it:x:80000:",
  "lookalike:x:90000:user-defined-in-image-2",
  "",
].join("\n");

const podWith = (sc: PodSecurityContext = {}): Pick<Pod, "spec"> => ({ spec: { containers: [], securityContext: sc } });
const fromImage = (uid: number) => imageGroupsOf(passwd, group, uid);

describe("the groups of the image's /etc/group", () => {
  it("are those listing the uid's user by name, its own group left out", () => {
    assert.equal(userNameOf(passwd, 1000), "user-defined-in-image");
    assert.equal(userNameOf(passwd, 4242), undefined);
    assert.deepEqual(imageGroupsOf(passwd, group, 1000), [50000, 10]);
    assert.deepEqual(imageGroupsOf(passwd, group, 0), [10]);
    assert.deepEqual(imageGroupsOf(passwd, group, 1001), [10]);
    // A uid without a passwd entry has no name to be listed by.
    assert.deepEqual(imageGroupsOf(passwd, group, 4242), []);
    assert.deepEqual(imageGroupsOf("", group, 0), []);
    assert.deepEqual(imageGroupsOf(passwd, "", 1000), []);
    assert.deepEqual(imageGroupsOf(passwd.replace(/\n/g, "\r\n"), group.replace(/\n/g, "\r\n"), 1000), [50000, 10]);
  });

  it("readGroup reads a regular etc/group, never through a symlink", () => {
    const dir = mkdtempSync(join(tmpdir(), "podd-group-"));
    try {
      mkdirSync(join(dir, "plain/etc"), { recursive: true });
      writeFileSync(join(dir, "plain/etc/group"), group);
      assert.equal(readGroup(join(dir, "plain")), group);
      mkdirSync(join(dir, "link/etc"), { recursive: true });
      symlinkSync(join(dir, "plain/etc/group"), join(dir, "link/etc/group"));
      assert.equal(readGroup(join(dir, "link")), undefined);
      assert.equal(readGroup(join(dir, "none")), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("supplementary groups", () => {
  it("Merge (the default): primary gid, image groups, fsGroup, supplementalGroups; each once, ascending", () => {
    const sc = { runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000] };
    assert.deepEqual(processSecurity(podWith(sc), {}, fromImage).supplementalGroups, [10, 3000, 4000, 50000]);
    assert.deepEqual(processSecurity(podWith({ ...sc, supplementalGroupsPolicy: "Merge" }), {}, fromImage).supplementalGroups, [10, 3000, 4000, 50000]);
    assert.deepEqual(supplementalGroupsOf(podWith({ fsGroup: 2000, supplementalGroups: [4000, 2000, 3000] }), 3000, [50000, 4000]), [2000, 3000, 4000, 50000]);
  });

  it("Strict: the image's /etc/group adds nothing", () => {
    const sc: PodSecurityContext = { runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000], supplementalGroupsPolicy: "Strict" };
    assert.deepEqual(processSecurity(podWith(sc), {}, fromImage).supplementalGroups, [3000, 4000]);
    assert.deepEqual(processSecurity(podWith({ ...sc, fsGroup: 2000 }), {}, fromImage).supplementalGroups, [2000, 3000, 4000]);
  });

  it("the container's runAsUser and runAsGroup decide the user and the primary gid", () => {
    const container: Pick<Container, "securityContext"> = { securityContext: { runAsUser: 1000, runAsGroup: 7 } };
    const s = processSecurity(podWith({ runAsUser: 0, runAsGroup: 0, fsGroup: 2000 }), container, fromImage);
    assert.deepEqual([s.uid, s.gid, s.supplementalGroups], [1000, 7, [7, 10, 2000, 50000]]);
    // Root with nothing set: the primary gid alone, as containerd always lists it.
    assert.deepEqual(processSecurity(podWith(), {}).supplementalGroups, [0]);
  });

  it("hooks and podd exec get them as the command was started (status user.linux), else as the spec says", () => {
    const pod = podWith({ runAsUser: 1000, runAsGroup: 3000 });
    assert.deepEqual(execSecurity(pod, {}, { supplementalGroups: [3000, 50000] }).supplementalGroups, [3000, 50000]);
    assert.deepEqual(execSecurity(pod, {}).supplementalGroups, [3000]);
    assert.deepEqual(execIdentityArgs(execSecurity(pod, { securityContext: { allowPrivilegeEscalation: false } }, { supplementalGroups: [3000, 50000] })), [
      "--uid", "1000", "--gid", "3000", "--no-new-privs", "--groups", "3000,50000", "--caps", "a80425fb",
    ]);
  });
});

function launchContext(sc: PodSecurityContext, files: { passwd?: string; group?: string }): LaunchContext {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", namespace: "default", uid: "u" },
    spec: { containers: [{ name: "c", image: "img", command: ["id"] }], securityContext: sc },
  } as LaunchContext["pod"];
  return {
    pod,
    container: pod.spec.containers[0]!,
    image: fakeImage(),
    layersDir: "/run/p/c/layers",
    sandbox: { ns: {}, hosts: "/run/p/hosts", hostname: "/run/p/hostname", resolvConf: "/run/p/resolv.conf", shm: "/run/p/shm" },
    volumes: new Map(),
    cgroupDirs: [],
    roots: { state: "/s", run: "/r", log: "/l" },
    stateDir: "/r/c",
    logPath: "/l/c/0.log",
    logMaxSize: 1,
    logMaxFiles: 1,
    oomScoreAdj: 1000,
    rootfsMountPoint: "/r/c/rootfs",
    upperDir: "/s/upper",
    workDir: "/s/work",
    terminationLog: undefined,
    node: { name: "n", hostIP: "127.0.0.1", allocatable: { milliCpu: 1000n, memoryBytes: 1n << 30n } },
    podIPs: [],
    ...files,
  };
}

describe("the container's command", () => {
  it("is started by podd-init with --groups, from the image's passwd and group", () => {
    const plan = planLaunch(launchContext({ runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000 }, { passwd, group }));
    assert.deepEqual(plan.security.supplementalGroups, [10, 2000, 3000, 50000]);
    const args = initArgs(plan, 3);
    const at = args.indexOf("--groups");
    assert.deepEqual(args.slice(at, at + 2), ["--groups", "10,2000,3000,50000"]);
    assert.ok(at < args.indexOf("--"), "before the command");
    // An image without /etc/group: the pod's groups only.
    assert.deepEqual(planLaunch(launchContext({ runAsUser: 1000, runAsGroup: 3000 }, { passwd })).security.supplementalGroups, [3000]);
  });

  it("more groups than podd-init takes is a configuration error, not a truncated list", () => {
    const many = Array.from({ length: MAX_SUPPLEMENTARY_GROUPS }, (_, i) => 10_000 + i);
    assert.equal(planLaunch(launchContext({ supplementalGroups: many.slice(1) }, {})).security.supplementalGroups.length, MAX_SUPPLEMENTARY_GROUPS);
    assert.throws(() => planLaunch(launchContext({ supplementalGroups: many }, {})), (e: unknown) => e instanceof ConfigError && /65 supplementary groups; podd supports at most 64/.test((e as Error).message));
  });
});

describe("status user.linux", () => {
  it("is the identity of the instance from its start on, kept while it waits for a restart", () => {
    const user = { uid: 1000, gid: 3000, supplementalGroups: [3000, 4000] };
    const starting = recordStarting("c", newContainerRecord(), 1000, undefined, user);
    const running = recordRunning("c", starting, 2000, { containerID: "abc" });
    const status = containerStatus("c", "app", running, "img", "ContainerCreating");
    assert.deepEqual(status.user, { linux: { uid: 1000, gid: 3000, supplementalGroups: [3000, 4000] } });
    assert.deepEqual(Object.keys(status).slice(-2), ["started", "user"], "after started, as the API orders it");
    assert.equal(containerStatus("c", "app", newContainerRecord(), "img", "ContainerCreating").user, undefined);
    // Terminated and waiting: still the last instance's. A start that brings no identity (an
    // adopted run) keeps what was known.
    const exited = recordExit("c", running, { exitCode: 1, reason: "Error", finishedAtMs: 3000 });
    assert.deepEqual(containerStatus("c", "app", exited, "img", "ContainerCreating").user, status.user);
    assert.deepEqual(recordStarting("c", exited, 4000).user, user);
    const other = { uid: 1, gid: 1, supplementalGroups: [1] };
    assert.deepEqual(recordStarting("c", exited, 4000, undefined, other).user, other);
  });
});
