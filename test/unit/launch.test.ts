import { strict as assert } from "node:assert";
import { test } from "node:test";

import { containerEnv, hostRootTakesFile } from "../../supervisor/runtime/launch.ts";
import type { Container, Pod } from "../../pod-specs/types.ts";

test("containerEnv: a limit the container does not set is the node's allocatable (capacity less reservations)", () => {
  const container: Container = {
    name: "c",
    image: "busybox",
    env: [
      { name: "CPU", valueFrom: { resourceFieldRef: { resource: "limits.cpu" } } },
      { name: "CPU_M", valueFrom: { resourceFieldRef: { resource: "limits.cpu", divisor: "1m" } } },
      { name: "MEM", valueFrom: { resourceFieldRef: { resource: "limits.memory" } } },
    ],
  };
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "default", uid: "u" }, spec: { containers: [container] } } as Pod & { metadata: { uid: string; namespace: string } };
  const env = containerEnv({ pod, container, image: undefined, node: { name: "n", hostIP: "127.0.0.1", allocatable: { milliCpu: 1500n, memoryBytes: 1073741824n } }, podIPs: ["10.87.0.2"] });
  assert.ok(env.includes("CPU=2"), env.join("\n"));
  assert.ok(env.includes("CPU_M=1500"), env.join("\n"));
  assert.ok(env.includes("MEM=1073741824"), env.join("\n"));
});

test("hostRootTakesFile: a mount point on the host root only on its tmpfs mounts or on a file the host has", () => {
  const hostFiles = new Set(["/etc/motd"]);
  const isFile = (p: string) => hostFiles.has(p);
  assert.equal(hostRootTakesFile("/dev/termination-log", isFile), true);
  assert.equal(hostRootTakesFile("/tmp/why", isFile), true);
  assert.equal(hostRootTakesFile("/run/x/why", isFile), true);
  assert.equal(hostRootTakesFile("/var/tmp/why", isFile), true);
  assert.equal(hostRootTakesFile("/etc/motd", isFile), true);
  assert.equal(hostRootTakesFile("/var/log/why", isFile), false);
  assert.equal(hostRootTakesFile("/dev/../etc/why", isFile), false);
  assert.equal(hostRootTakesFile("/tmpfoo", isFile), false);
});
