// The one Node, and the scheduling fields evaluated against it through a real daemon: labels
// and taints from the daemon's flags, GET /api/v1/nodes, get and describe node, spec.nodeName
// on every pod; nodeName, nodeSelector, required node affinity, tolerations, pod
// anti-affinity, topology spread and the built-in priority classes, each fitting and not.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { e2eSkip, waitFor } from "./harness.ts";
import { getPod, type Daemon } from "./daemon-helpers.ts";
import { withCli } from "./cli-helpers.ts";

const skip = e2eSkip();

const pod = (name: string, spec: Record<string, unknown>, labels: Record<string, string> = {}, namespace = "default") =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace, labels },
    spec: { terminationGracePeriodSeconds: 1, containers: [{ name: "c", image: "busybox:local", command: ["sleep", "1000"] }], ...spec },
  });

/** The pod's phase once admission has decided: Running, or Failed with the reason. */
async function verdict(d: Daemon, name: string, ns = "default"): Promise<{ phase: string; reason?: string; message?: string }> {
  return waitFor(`${name} admitted or rejected`, async () => {
    const p = await getPod(d, name, ns);
    if (p?.status?.phase === "Failed") return { phase: "Failed", reason: p.status.reason, message: p.status.message };
    return p?.status?.containerStatuses?.[0]?.state?.running ? { phase: "Running" } : undefined;
  });
}

const tolerateEdge = { tolerations: [{ key: "dedicated", operator: "Equal", value: "edge", effect: "NoSchedule" }] };

describe("the node and scheduling", { skip, timeout: 600_000 }, () => {
  test("the node's labels and taints; each scheduling field fitting and not", () =>
    withCli(async (c) => {
      const node = hostname().trim().toLowerCase();
      const list = await c.d.request("GET", "/api/v1/nodes");
      assert.equal(list.status, 200);
      const n = list.json.items[0];
      assert.equal(n.metadata.name, node);
      assert.equal(n.metadata.labels["kubernetes.io/hostname"], node);
      assert.equal(n.metadata.labels["kubernetes.io/os"], "linux");
      assert.equal(n.metadata.labels.disk, "ssd");
      assert.deepEqual(n.spec.taints, [{ key: "dedicated", value: "edge", effect: "NoSchedule" }]);
      assert.equal(n.status.conditions.find((x: { type: string }) => x.type === "Ready").status, "True");
      assert.ok(Number(n.status.allocatable.pods) === 110 && n.status.capacity.cpu && n.status.capacity.memory.endsWith("Ki"));
      assert.equal((await c.d.request("GET", "/api/v1/nodes/other")).status, 404);
      const get = await c.run("get", ["nodes"]);
      assert.match(get.stdout, new RegExp(`^NAME\\s+STATUS\\s+ROLES\\s+AGE\\s+VERSION\\n${node}\\s+Ready\\s+<none>\\s+\\S+\\s+v\\S+\\n$`));
      const described = await c.run("describe", ["node", node]);
      assert.match(described.stdout, /^Taints:\s+dedicated=edge:NoSchedule$/m);
      assert.match(described.stdout, /^\s+disk=ssd$/m);

      const cases: [string, Record<string, unknown>, string | undefined, Record<string, string>?][] = [
        ["untolerated", {}, "TaintToleration"],
        ["tolerated", tolerateEdge, undefined],
        ["by-name", { ...tolerateEdge, nodeName: node }, undefined],
        ["other-node", { ...tolerateEdge, nodeName: "elsewhere" }, "NodeName"],
        ["selector", { ...tolerateEdge, nodeSelector: { disk: "ssd" } }, undefined],
        ["selector-miss", { ...tolerateEdge, nodeSelector: { disk: "hdd" } }, "NodeAffinity"],
        [
          "affinity",
          { ...tolerateEdge, affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "In", values: ["lab", "shop"] }] }] } } } },
          undefined,
        ],
        [
          "affinity-miss",
          { ...tolerateEdge, affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: "zone", operator: "NotIn", values: ["lab"] }] }] } } } },
          "NodeAffinity",
        ],
      ];
      for (const [name, spec] of cases) assert.equal((await c.apply(`${name}.yaml`, pod(name, spec))).code, 0);
      for (const [name, , reason] of cases) {
        const v = await verdict(c.d, name);
        assert.equal(v.reason, reason, `${name}: ${JSON.stringify(v)}`);
        if (reason) assert.match(v.message!, new RegExp(`^Pod was rejected: Predicate ${reason} failed: `));
      }
      assert.match((await verdict(c.d, "untolerated")).message!, /untolerated taint \{dedicated: edge\}/);
      // Every pod is bound to the node.
      assert.equal((await getPod(c.d, "tolerated")).spec.nodeName, node);
      assert.match((await c.run("describe", ["pod", "tolerated"])).stdout, new RegExp(`^Node:\\s+${node}/`, "m"));
      // Applying the same manifest again changes nothing: nodeName is podd's, not the manifest's.
      assert.equal((await c.apply("tolerated.yaml", pod("tolerated", tolerateEdge))).stdout, "pod/tolerated unchanged\n");
    }, ["--node-labels", "disk=ssd,zone=lab", "--register-with-taints", "dedicated=edge:NoSchedule"]));

  test("pod anti-affinity and topology spread over the pods of the node; the critical priority classes", () =>
    withCli(async (c) => {
      const web = { app: "web" };
      const antiWeb = { affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: web }, topologyKey: "kubernetes.io/hostname" }] } } };
      assert.equal((await c.apply("web1.yaml", pod("web1", antiWeb, web))).code, 0);
      assert.equal((await verdict(c.d, "web1")).phase, "Running", "the first of its kind: nothing to avoid");
      assert.equal((await c.apply("web2.yaml", pod("web2", antiWeb, web))).code, 0);
      const second = await verdict(c.d, "web2");
      assert.equal(second.reason, "InterPodAffinity");
      assert.match(second.message!, /didn't match pod anti-affinity rules/);
      // A pod without the rule is refused by the running pod's own anti-affinity (symmetry).
      assert.equal((await c.apply("web3.yaml", pod("web3", {}, web))).code, 0);
      assert.match((await verdict(c.d, "web3")).message!, /existing pods anti-affinity rules \(pod default\/web1\)/);

      const spread = (name: string, minDomains?: number) =>
        pod(name, { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: "db" } }, ...(minDomains ? { minDomains } : {}) }] }, { app: "db" });
      assert.equal((await c.apply("db1.yaml", spread("db1"))).code, 0);
      assert.equal((await c.apply("db2.yaml", spread("db2"))).code, 0);
      assert.equal((await verdict(c.d, "db1")).phase, "Running");
      assert.equal((await verdict(c.d, "db2")).phase, "Running", "one domain: the skew is the pod itself, 1");
      // minDomains 2 on one node: the other domain counts as empty, so a second pod would skew 2.
      assert.equal((await c.apply("db3.yaml", spread("db3", 2))).code, 0);
      assert.equal((await verdict(c.d, "db3")).reason, "PodTopologySpread");
      const missing = pod("nolabel", { topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "topology.kubernetes.io/zone", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: "x" } } }] });
      assert.equal((await c.apply("nolabel.yaml", missing)).code, 0);
      assert.match((await verdict(c.d, "nolabel")).message!, /missing required label/);

      // The built-in classes, in kube-system only (the Priority admission plugin's limit).
      const critical = pod("critical", { priorityClassName: "system-node-critical" }, {}, "kube-system");
      assert.equal((await c.apply("critical.yaml", critical)).code, 0);
      await waitFor("critical running", async () => (await getPod(c.d, "critical", "kube-system"))?.status?.phase === "Running" || undefined);
      assert.equal((await getPod(c.d, "critical", "kube-system")).spec.priority, 2000001000);
      const refused = await c.apply("default-critical.yaml", pod("default-critical", { priorityClassName: "system-node-critical" }));
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /spec\.priorityClassName: Forbidden: pods with system-node-critical priorityClass is not permitted in default namespace/);
      const unknown = await c.apply("unknown.yaml", pod("unknown", { priorityClassName: "high-priority" }));
      assert.match(unknown.stderr, /no PriorityClass with name high-priority was found/);
    }));

  test("the OOM score each pod's QoS class and priority imply, for its command, what it forks and what podd exec runs", () =>
    withCli(async (c) => {
      // Without CAP_SYS_RESOURCE (root in some sandboxes) no process may go below what it
      // inherited: the daemon then keeps the test's score and raises every container's to it.
      const capable = ((BigInt(`0x${/^CapEff:\s*(\S+)$/m.exec(readFileSync("/proc/self/status", "utf8"))![1]}`) >> 24n) & 1n) === 1n;
      const inherited = Number(readFileSync("/proc/self/oom_score_adj", "utf8"));
      const daemonScore = Number(readFileSync(`/proc/${c.d.child.pid}/oom_score_adj`, "utf8"));
      assert.equal(daemonScore, capable ? -999 : inherited, "the daemon's own score, as the kubelet's --oom-score-adj");
      const floor = capable ? -1000 : daemonScore;
      if (!capable) assert.match(c.d.output(), /without CAP_SYS_RESOURCE podd cannot give a container an oom_score_adj below/);

      const memoryKi = BigInt(/^(\d+)Ki$/.exec((await c.d.request("GET", "/api/v1/nodes")).json.items[0].status.capacity.memory)![1]!);
      const scored = (name: string, resources: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}, namespace = "default") =>
        JSON.stringify({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name, namespace },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [{ name: "c", image: "busybox:local", command: ["sh", "-c", "cat /proc/self/oom_score_adj; exec sleep 1000"], ...(resources ? { resources } : {}) }],
            ...extra,
          },
        });
      const cases: [string, string, number][] = [
        ["besteffort", scored("besteffort", undefined), 1000],
        ["burstable", scored("burstable", { requests: { memory: "256Mi" } }), 1000 - Number((1000n * 268435456n) / (memoryKi * 1024n))],
        ["guaranteed", scored("guaranteed", { limits: { cpu: "100m", memory: "64Mi" } }), Math.max(-997, floor)],
        ["critical", scored("critical", undefined, { priorityClassName: "system-node-critical" }, "kube-system"), Math.max(-997, floor)],
      ];
      for (const [name, yaml] of cases) assert.equal((await c.apply(`${name}.yaml`, yaml)).code, 0);
      for (const [name, , want] of cases) {
        const ns = name === "critical" ? "kube-system" : "default";
        const logged = await waitFor(`${name} logged its score`, async () => (await c.run("logs", [name, "-n", ns])).stdout.trim() || undefined);
        assert.equal(Number(logged), want, `${name}: what its command forked`);
      }
      const exec = await c.run("exec", ["burstable", "--", "cat", "/proc/self/oom_score_adj"]);
      // What the kernel said, should the exec'd process have been killed (a global OOM kill
      // takes the highest scores first).
      const kernel = () => spawnSync("dmesg", { encoding: "utf8" }).stdout.split("\n").slice(-15).join("\n");
      assert.equal(exec.code, 0, exec.code === 0 ? "" : `podd exec: code ${exec.code}, signal ${exec.signal}: ${exec.stderr}\n${kernel()}`);
      assert.equal(Number(exec.stdout), cases[1]![2], "podd exec runs with the container's score");
    }, ["--oom-score-adj=-999"]));
});
