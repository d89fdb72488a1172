// Pod networking through CNI, for real: a daemon in a network namespace of the test's own
// (never the host's) gives pods addresses on podd's default network (Debian's plugins), pods
// talk to each other by IP and by name, reach a "world" namespace through the bridge's
// masquerade, publish hostPorts on the host's addresses and 127.0.0.1, get resolv.conf and
// hosts files as the kubelet writes them; and no fault (a plugin that fails or hangs, a
// daemon or a podd run killed between ADD and its result, a daemon killed during DEL, a
// reboot) leaks a lease, a veth, a firewall rule, a record or a pin.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { destroyEnv, e2eSkip, fixture, leftovers, networkEnv, podd, waitFor, writeManifest, type Env } from "./harness.ts";
import { crashDaemon, getPod, killPid, podManifest, putPod, startDaemon, stopDaemon, waitGone, waitRunning, type Daemon } from "./daemon-helpers.ts";
import { connect, inNetns, makeNetns, removeNetns } from "../lib/netns.ts";

const skip = e2eSkip() || (!existsSync("/usr/lib/cni/bridge") ? "needs Debian's containernetworking-plugins" : false);


const leaseDir = (env: Env, net = "podd") => join(env.state, "cni", "networks", net);

/** What a pod's attachment leaves while it exists, to be empty once every pod is gone. */
function networkLeftovers(env: Env & { hostNs: string }, net = "podd") {
  const leases = existsSync(leaseDir(env, net)) ? readdirSync(leaseDir(env, net)).filter((f) => !f.startsWith("last_reserved_ip") && f !== "lock") : [];
  const links = inNetns(env.hostNs, "ip", ["-o", "link", "show", "type", "veth"]).stdout.split("\n").filter((l) => l && !l.includes("podd-t-"));
  // Per-pod rules name the attachment (the plugins' comments), or the pod's address.
  const rules = inNetns(env.hostNs, "iptables-save", [])
    .stdout.split("\n")
    .filter((l) => /id: "|CNI-DN-|10\.87\./.test(l));
  const dirOf = (d: string) => (existsSync(d) ? readdirSync(d).filter((f) => !f.startsWith(".")) : []);
  return { leases, links, rules, attachments: dirOf(join(env.state, "cni", "attachments")), results: dirOf(join(env.run, "cni", "results")), pins: leftovers(env).pins };
}

const nothingLeft = { leases: [], links: [], rules: [], attachments: [], results: [], pins: [] };

function hostPod(name: string, containers: Record<string, unknown>[], extra: Record<string, unknown> = {}) {
  return podManifest(name, { terminationGracePeriodSeconds: 1, containers: containers.map((c) => ({ image: "host", ...c })), ...extra });
}

async function podExec(d: Daemon, pod: string, argv: string[], container?: string) {
  return podd(["exec", pod, ...(container ? ["-c", container] : []), "--socket", d.socket, "--", ...argv]);
}

async function deleteAll(d: Daemon, names: string[]): Promise<void> {
  for (const n of names) await d.request("DELETE", `/api/v1/namespaces/default/pods/${n}?gracePeriodSeconds=0`);
  for (const n of names) await waitGone(d, n, "default", 30_000);
}

async function events(d: Daemon, pod: string): Promise<{ reason: string; message: string; type: string }[]> {
  const r = await d.request("GET", "/api/v1/namespaces/default/events");
  return (r.json?.items ?? []).filter((e: { involvedObject?: { name?: string } }) => e.involvedObject?.name === pod);
}

describe("pod networking", { skip, timeout: 240_000 }, () => {
  let env: Env & { hostNs: string };
  let worldNs: string;
  let d: Daemon;
  let world: ChildProcess | undefined;

  before(async () => {
    env = networkEnv();
    worldNs = makeNetns(join(env.dir, "world.net"));
    connect(env.hostNs, "192.0.2.1", worldNs, "192.0.2.2");
    d = await startDaemon(env, [], undefined, env.hostNs);
  });

  after(async () => {
    if (world?.pid) killPid(world.pid);
    await stopDaemon(d, "SIGKILL");
    destroyEnv(env);
  });

  test("pods get addresses and talk over TCP and UDP, by IP and by name; a hostPort is published on every host address and 127.0.0.1, and a second pod asking for it is refused", async () => {
    await putPod(d, hostPod("srv", [
      { name: "tcp", command: [fixture, "serve", "tcp", "80"], ports: [{ containerPort: 80, hostPort: 8081 }] },
      { name: "udp", command: [fixture, "serve", "udp", "81"], ports: [{ containerPort: 81, hostPort: 8081, protocol: "UDP" }] },
    ]));
    await putPod(d, hostPod("cli", [{ name: "c", command: [fixture, "sleep-forever"], env: [{ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }] }]));
    await waitRunning(d, "srv", "tcp");
    await waitRunning(d, "srv", "udp");
    await waitRunning(d, "cli", "c");
    const srv = await getPod(d, "srv");
    const cli = await getPod(d, "cli");
    assert.match(srv.status.podIP, /^10\.87\.\d+\.\d+$/);
    assert.deepEqual(srv.status.podIPs, [{ ip: srv.status.podIP }]);
    assert.notEqual(srv.status.podIP, cli.status.podIP);

    // Pod to pod, by address and by the name the other pod's /etc/hosts gives it.
    for (const [proto, port] of [["tcp", "80"], ["udp", "81"]] as const) {
      for (const host of [srv.status.podIP, "srv"]) {
        const r = await podExec(d, "cli", [fixture, "ask", proto, host, port]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, `srv ::ffff:${cli.status.podIP}\n`, `${proto} to ${host}: the server sees the asking pod's own address`);
      }
    }
    const hosts = await podExec(d, "cli", ["cat", "/etc/hosts"]);
    assert.match(hosts.stdout, new RegExp(`^# Kubernetes-managed hosts file\\.\\n127\\.0\\.0\\.1\\tlocalhost\\n`));
    assert.match(hosts.stdout, new RegExp(`\\n${cli.status.podIP.replace(/\./g, "\\.")}\\tcli\\n`));
    assert.match(hosts.stdout, new RegExp(`\\n# Other pods of namespace default, kept current by podd\\.\\n${srv.status.podIP.replace(/\./g, "\\.")}\\tsrv\\n`));
    assert.equal((await podExec(d, "cli", ["sh", "-c", "echo $POD_IP"])).stdout, `${cli.status.podIP}\n`);
    const wide = await podd(["get", "pods", "-o", "wide", "--socket", d.socket]);
    assert.match(wide.stdout, new RegExp(`\\ncli\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+${cli.status.podIP.replace(/\./g, "\\.")}\\s`));

    // The hostPort, from the host namespace (its own address, the bridge's, 127.0.0.1) and from
    // the world beyond it; TCP and UDP each reach their own container.
    for (const [proto, ns, addr] of [
      ["tcp", env.hostNs, "127.0.0.1"],
      ["tcp", env.hostNs, "192.0.2.1"],
      ["udp", env.hostNs, "127.0.0.1"],
      ["tcp", worldNs, "192.0.2.1"],
      ["udp", worldNs, "192.0.2.1"],
    ] as const) {
      const r = inNetns(ns, fixture, ["ask", proto, addr, "8081"]);
      assert.equal(r.status, 0, `${proto} ${addr}:8081 from ${ns}: ${r.stderr}`);
      assert.match(r.stdout, /^srv /);
    }

    // A second pod for the same port and protocol is refused at admission, by name.
    await putPod(d, hostPod("srv2", [{ name: "c", command: [fixture, "serve", "tcp", "80"], ports: [{ containerPort: 80, hostPort: 8081 }] }]));
    const refused = await waitFor("srv2 refused", async () => ((await getPod(d, "srv2"))?.status?.phase === "Failed" ? getPod(d, "srv2") : undefined));
    assert.equal(refused.status.reason, "NodePorts");
    assert.match(refused.status.message, /hostPort 8081\/TCP is held by pod default\/srv/);
    assert.ok((await events(d, "srv2")).some((e) => e.reason === "NodePorts" && e.type === "Warning"));
    // Another protocol on the same port is free; hostIP narrows a port to that address.
    await putPod(d, hostPod("srv3", [
      { name: "c", command: [fixture, "serve", "udp", "80"], ports: [{ containerPort: 80, hostPort: 8082, protocol: "UDP" }] },
      { name: "t", command: [fixture, "serve", "tcp", "81"], ports: [{ containerPort: 81, hostPort: 8083, hostIP: "192.0.2.1" }] },
    ]));
    await waitRunning(d, "srv3", "t");
    assert.equal(inNetns(worldNs, fixture, ["ask", "tcp", "192.0.2.1", "8083"]).status, 0);
    assert.notEqual(inNetns(env.hostNs, fixture, ["ask", "tcp", "127.0.0.1", "8083"]).status, 0, "hostIP 192.0.2.1: not published on 127.0.0.1");

    await deleteAll(d, ["srv", "cli", "srv2", "srv3"]);
    assert.deepEqual(networkLeftovers(env), nothingLeft);
  });

  test("a pod reaches an address beyond the host through the bridge's masquerade", async () => {
    world = spawn("nsenter", [`--net=${worldNs}`, fixture, "serve", "tcp", "7000"], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve) => world!.stdout!.once("data", () => resolve()));
    await putPod(d, hostPod("out", [{ name: "c", command: [fixture, "sleep-forever"] }]));
    await waitRunning(d, "out", "c");
    const r = await podExec(d, "out", [fixture, "ask", "tcp", "192.0.2.2", "7000"]);
    assert.equal(r.code, 0, r.stderr);
    // The world sees the host's address, not the pod's: masqueraded.
    assert.match(r.stdout, / ::ffff:192\.0\.2\.1\n$/);
    await deleteAll(d, ["out"]);
    killPid(world.pid!);
    world = undefined;
  });

  test("resolv.conf per dnsPolicy, with dnsConfig merged; hosts and resolv.conf with hostNetwork", async () => {
    const host = readFileSync("/etc/resolv.conf", "utf8");
    const hostServers = [...host.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((m) => m[1]!);
    const sleeper = [{ name: "c", command: [fixture, "sleep-forever"] }];
    await putPod(d, hostPod("dns-first", sleeper));
    await putPod(d, hostPod("dns-default", sleeper, { dnsPolicy: "Default", dnsConfig: { searches: ["podd.example"], options: [{ name: "ndots", value: "2" }] } }));
    await putPod(d, hostPod("dns-none", sleeper, { dnsPolicy: "None", dnsConfig: { nameservers: ["192.0.2.53"], searches: ["a.example", "b.example"], options: [{ name: "ndots", value: "1" }, { name: "edns0" }] } }));
    await putPod(d, hostPod("dns-host", sleeper, { hostNetwork: true, hostAliases: [{ ip: "192.0.2.9", hostnames: ["nine.example"] }] }));
    for (const p of ["dns-first", "dns-default", "dns-none", "dns-host"]) await waitRunning(d, p, "c");
    const resolv = async (p: string) => (await podExec(d, p, ["cat", "/etc/resolv.conf"])).stdout;

    const first = await resolv("dns-first");
    for (const s of hostServers.slice(0, 3)) assert.match(first, new RegExp(`^nameserver ${s.replace(/\./g, "\\.")}$`, "m"));
    assert.ok((await events(d, "dns-first")).some((e) => e.reason === "MissingClusterDNS" && /Falling back to "Default" policy/.test(e.message)));
    const dflt = await resolv("dns-default");
    assert.match(dflt, /^search (.* )?podd\.example$/m);
    assert.match(dflt, /^options (.* )?ndots:2( |$)/m);
    assert.ok(!(await events(d, "dns-default")).some((e) => e.reason === "MissingClusterDNS"));
    assert.equal(await resolv("dns-none"), "search a.example b.example\nnameserver 192.0.2.53\noptions ndots:1 edns0\n");
    const hostHosts = (await podExec(d, "dns-host", ["cat", "/etc/hosts"])).stdout;
    assert.ok(hostHosts.startsWith(`# Kubernetes-managed hosts file (host network).\n${readFileSync("/etc/hosts", "utf8")}`), hostHosts);
    assert.match(hostHosts, /\n# Entries added by HostAliases\.\n192\.0\.2\.9\tnine\.example\n/);
    for (const s of hostServers.slice(0, 3)) assert.match(await resolv("dns-host"), new RegExp(`^nameserver ${s.replace(/\./g, "\\.")}$`, "m"));
    assert.ok(!(await events(d, "dns-host")).some((e) => e.reason === "MissingClusterDNS"), "ClusterFirst with hostNetwork is Default, silently");
    await deleteAll(d, ["dns-first", "dns-default", "dns-none", "dns-host"]);
  });
});

/**
 * A plugin for the fault tests, last in the list: it passes the result on, and fails or hangs
 * on the command a marker file in its directory names (fail-ADD, hang-DEL, …); every call is
 * logged with its pid, so that a hanging one can be ended.
 */
function writeTestPlugin(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "podd-test-plugin");
  writeFileSync(
    path,
    `#!${process.execPath}
const fs = require("fs");
const cmd = process.env.CNI_COMMAND;
fs.appendFileSync(__dirname + "/calls", JSON.stringify({ cmd, pid: process.pid, id: process.env.CNI_CONTAINERID }) + "\\n");
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  if (fs.existsSync(__dirname + "/fail-" + cmd)) {
    process.stdout.write(JSON.stringify({ cniVersion: "1.0.0", code: 999, msg: "podd test plugin fails " + cmd + " on demand" }));
    process.exit(1);
  }
  if (fs.existsSync(__dirname + "/hang-" + cmd)) return setInterval(() => {}, 1 << 30);
  if (cmd === "ADD") process.stdout.write(JSON.stringify(JSON.parse(input).prevResult));
});
`,
  );
  chmodSync(path, 0o755);
}

function calls(dir: string): { cmd: string; pid: number; id: string }[] {
  const p = join(dir, "calls");
  return existsSync(p) ? readFileSync(p, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
}

/** An env whose list is podd's bridge network with the test plugin last, its leases in the env. */
function faultEnv(): Env & { hostNs: string; bin: string; conf: string } {
  const env = networkEnv();
  const bin = join(env.dir, "cni-bin");
  const conf = join(env.dir, "cni-conf");
  writeTestPlugin(bin);
  mkdirSync(conf);
  const list = {
    cniVersion: "1.0.0",
    name: "podd-fault",
    plugins: [
      { type: "bridge", bridge: "podd-f0", isGateway: true, ipMasq: true, ipam: { type: "host-local", ranges: [[{ subnet: "10.87.0.0/16" }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: join(env.state, "cni", "networks") } },
      { type: "portmap", capabilities: { portMappings: true }, snat: true },
      { type: "firewall" },
      { type: "podd-test-plugin" },
    ],
  };
  writeFileSync(join(conf, "10-fault.conflist"), JSON.stringify(list));
  return { ...env, bin, conf };
}

describe("pod networking under faults", { skip, timeout: 300_000 }, () => {
  const sleeper = (name: string) => hostPod(name, [{ name: "c", command: [fixture, "sleep-forever"], ports: [{ containerPort: 80, hostPort: 9080 }] }]);

  async function withFaultDaemon(fn: (env: ReturnType<typeof faultEnv>, start: (args?: string[]) => Promise<Daemon>) => Promise<void>): Promise<void> {
    const env = faultEnv();
    let d: Daemon | undefined;
    const start = async (args: string[] = []) => (d = await startDaemon(env, ["--cni-conf-dir", env.conf, "--cni-bin-dir", `${env.bin}:/usr/lib/cni`, ...args], undefined, env.hostNs));
    try {
      await fn(env, start);
    } finally {
      await stopDaemon(d, "SIGKILL");
      for (const c of calls(env.bin)) killPid(c.pid);
      destroyEnv(env);
    }
  }

  test("a plugin that fails ADD: the pod's sandbox fails with its message, the attachment is torn down, and the pod starts once the plugin works", async () => {
    await withFaultDaemon(async (env, start) => {
      const d = await start();
      writeFileSync(join(env.bin, "fail-ADD"), "");
      await putPod(d, sleeper("p"));
      const ev = await waitFor("FailedCreatePodSandBox", async () => (await events(d, "p")).find((e) => e.reason === "FailedCreatePodSandBox"));
      assert.match(ev.message, /CNI plugin podd-test-plugin \(ADD\) failed: podd test plugin fails ADD on demand/);
      // The DEL that followed ran the whole list in reverse, bridge last.
      await waitFor("DEL after the failed ADD", () => calls(env.bin).some((c) => c.cmd === "DEL"));
      await waitFor("nothing left of the failed attachment", () => JSON.stringify(networkLeftovers(env, "podd-fault")) === JSON.stringify({ ...nothingLeft, pins: networkLeftovers(env, "podd-fault").pins }));
      rmSync(join(env.bin, "fail-ADD"));
      await waitRunning(d, "p", "c", 40_000);
      assert.match((await getPod(d, "p")).status.podIP, /^10\.87\./);
      await deleteAll(d, ["p"]);
      assert.deepEqual(networkLeftovers(env, "podd-fault"), nothingLeft);
    });
  });

  test("a plugin that hangs is killed at --cni-timeout, and nothing is left of the attachment", async () => {
    await withFaultDaemon(async (env, start) => {
      const d = await start(["--cni-timeout", "2s"]);
      writeFileSync(join(env.bin, "hang-ADD"), "");
      await putPod(d, sleeper("p"));
      const ev = await waitFor("FailedCreatePodSandBox", async () => (await events(d, "p")).find((e) => e.reason === "FailedCreatePodSandBox"), 30_000);
      assert.match(ev.message, /CNI plugin podd-test-plugin \(ADD\): no answer within 2 s; it was killed/);
      const hung = calls(env.bin).find((c) => c.cmd === "ADD")!;
      await waitFor("the hanging plugin killed", () => !existsSync(`/proc/${hung.pid}`));
      rmSync(join(env.bin, "hang-ADD"));
      await deleteAll(d, ["p"]);
      assert.deepEqual(networkLeftovers(env, "podd-fault"), nothingLeft);
    });
  });

  test("a daemon killed between ADD and the write of its result, and one killed during DEL: the next daemon tears the attachments down", async () => {
    await withFaultDaemon(async (env, start) => {
      let d = await start();
      writeFileSync(join(env.bin, "hang-ADD"), "");
      await putPod(d, sleeper("p"));
      // The bridge has given the pod its lease and veth when the last plugin is called.
      const hung = await waitFor("the last plugin's ADD", () => calls(env.bin).find((c) => c.cmd === "ADD"));
      assert.equal(networkLeftovers(env, "podd-fault").leases.length, 1);
      await crashDaemon(d);
      killPid(hung.pid);
      rmSync(join(env.bin, "hang-ADD"));
      d = await start();
      await waitRunning(d, "p", "c", 40_000);
      // The stale attachment was DEL'd before the pod got a new one: one lease, one record.
      const mid = networkLeftovers(env, "podd-fault");
      assert.equal(mid.leases.length, 1, JSON.stringify(mid));
      assert.equal(mid.attachments.length, 1, JSON.stringify(mid));
      assert.ok(calls(env.bin).some((c) => c.cmd === "DEL" && c.id === hung.id), "the crashed ADD's attachment was DEL'd by its id");

      writeFileSync(join(env.bin, "hang-DEL"), "");
      await d.request("DELETE", "/api/v1/namespaces/default/pods/p?gracePeriodSeconds=0");
      const del = await waitFor("the last plugin's DEL", () => calls(env.bin).find((c) => c.cmd === "DEL" && c.id !== hung.id));
      await crashDaemon(d);
      killPid(del.pid);
      rmSync(join(env.bin, "hang-DEL"));
      d = await start();
      await waitGone(d, "p", "default", 40_000);
      assert.deepEqual(networkLeftovers(env, "podd-fault"), nothingLeft);
    });
  });

  test("podd run killed between ADD and the write of its result: the next podd run on its roots DELs the attachment and removes what was left of the pod", async () => {
    const env = faultEnv();
    const flags = [...env.flags, "--cni-conf-dir", env.conf, "--cni-bin-dir", `${env.bin}:/usr/lib/cni`];
    const manifest = (name: string, pod: Record<string, unknown>) => writeManifest(env, `${name}.json`, JSON.stringify(pod));
    let first: ReturnType<typeof podd> | undefined;
    try {
      writeFileSync(join(env.bin, "hang-ADD"), "");
      first = podd(["run", "-f", manifest("a", sleeper("a")), ...flags], { netns: env.hostNs });
      const hung = await waitFor("the last plugin's ADD", () => calls(env.bin).find((c) => c.cmd === "ADD"), 30_000);
      assert.equal(networkLeftovers(env, "podd-fault").leases.length, 1);
      first.child.kill("SIGKILL");
      await first;
      killPid(hung.pid);
      rmSync(join(env.bin, "hang-ADD"));

      const second = await podd(["run", "-f", manifest("b", hostPod("b", [{ name: "c", command: ["/bin/true"] }], { restartPolicy: "Never" })), ...flags], { netns: env.hostNs });
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stderr, /removing pod default\/a \(uid [0-9a-f-]+\): no longer desired/);
      assert.ok(calls(env.bin).some((c) => c.cmd === "DEL" && c.id === hung.id), "the killed run's attachment was DEL'd by its id");
      assert.deepEqual(networkLeftovers(env, "podd-fault"), nothingLeft);
      assert.deepEqual(leftovers(env).processes, []);
    } finally {
      first?.child.kill("SIGKILL");
      for (const c of calls(env.bin)) killPid(c.pid);
      destroyEnv(env);
    }
  });

  test("a daemon that takes a pod up checks its attachment: as it was made, nothing is said; broken, a NetworkNotReady warning", async () => {
    await withFaultDaemon(async (env, start) => {
      let d = await start();
      await putPod(d, sleeper("p"));
      await waitRunning(d, "p", "c");
      const ip = (await getPod(d, "p")).status.podIP;
      await crashDaemon(d);
      d = await start();
      await waitFor("the pod adopted", async () => (await events(d, "p")).some((e) => e.reason === "Adopted"));
      await waitFor("CHECK run", () => calls(env.bin).some((c) => c.cmd === "CHECK"));
      assert.equal((await getPod(d, "p")).status.podIP, ip, "the address is taken up from the attachment's result");
      // The plugins' CHECKs have all answered once the last one (the test plugin) was called.
      assert.ok(!(await events(d, "p")).some((e) => e.reason === "NetworkNotReady"));
      // Someone takes the pod's default route away behind podd's back. (Not its address: the
      // bridge plugin's DEL reads that off eth0 to remove its masquerade rules.)
      const [pod] = readdirSync(join(env.run, "pods"));
      inNetns(join(env.run, "pods", pod!, "ns", "net"), "ip", ["route", "del", "default"], true);
      await crashDaemon(d);
      d = await start();
      const warned = await waitFor("NetworkNotReady", async () => (await events(d, "p")).find((e) => e.reason === "NetworkNotReady"));
      assert.match(warned.message, /CNI plugin bridge \(CHECK\) failed/);
      await deleteAll(d, ["p"]);
      assert.deepEqual(networkLeftovers(env, "podd-fault"), nothingLeft);
    });
  });

  test("after a reboot (run root empty, links and rules gone, leases on disk) the old attachments are released with the list they were made with", async () => {
    await withFaultDaemon(async (env, start) => {
      let d = await start();
      await putPod(d, sleeper("a"));
      await putPod(d, hostPod("b", [{ name: "c", command: [fixture, "sleep-forever"] }]));
      await waitRunning(d, "a", "c");
      await waitRunning(d, "b", "c");
      const before = networkLeftovers(env, "podd-fault");
      assert.equal(before.leases.length, 2);
      // The reboot: every process gone, the run root emptied, the host's network namespace new.
      await crashDaemon(d);
      destroyRunRoot(env);
      removeNetns(env.hostNs);
      makeNetns(env.hostNs);
      // The list changes meanwhile: the old leases must still be released, with the old list.
      writeFileSync(join(env.conf, "10-fault.conflist"), readFileSync(join(env.conf, "10-fault.conflist"), "utf8").replace("podd-f0", "podd-f1"));
      d = await start();
      await waitRunning(d, "a", "c", 40_000);
      await waitRunning(d, "b", "c", 40_000);
      const now = networkLeftovers(env, "podd-fault");
      assert.equal(now.leases.length, 2, JSON.stringify(now));
      assert.equal(now.attachments.length, 2, JSON.stringify(now));
      for (const old of before.attachments) assert.ok(!now.attachments.includes(old), "the attachments from before the reboot are gone");
      assert.match(inNetns(env.hostNs, "ip", ["-o", "link"]).stdout, /podd-f1/);
      await deleteAll(d, ["a", "b"]);
      assert.deepEqual(networkLeftovers(env, "podd-fault"), nothingLeft);
    });
  });
});

/** What a reboot does to the run root: its processes killed, its mounts gone, its files gone. */
function destroyRunRoot(env: Env): void {
  for (const pid of leftovers(env).processes) killPid(pid);
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m.startsWith(env.run + "/"))
    .reverse();
  for (const m of mounts) spawnSync("umount", ["-l", m]);
  rmSync(env.run, { recursive: true, force: true });
  mkdirSync(env.run);
}

describe("pod networking over many pods", { skip, timeout: 300_000 }, () => {
  test("200 apply/delete cycles leave the lease directory, the firewall rules and the link list as they were", async () => {
    const env = networkEnv();
    let d: Daemon | undefined;
    try {
      d = await startDaemon(env, [], undefined, env.hostNs);
      const cycle = async (name: string) => {
        await putPod(d!, hostPod(name, [{ name: "c", command: [fixture, "sleep-forever"], ports: [{ containerPort: 80, hostPort: 10000 + Number(name.slice(1)) }] }]));
        await waitRunning(d!, name, "c", 30_000);
        await deleteAll(d!, [name]);
      };
      const snapshot = () => ({
        leases: networkLeftovers(env).leases,
        rules: inNetns(env.hostNs, "iptables-save", []).stdout.split("\n").filter((l) => l && !l.startsWith("#") && !l.startsWith(":")).map((l) => l.replace(/\[\d+:\d+\]/g, "")),
        links: inNetns(env.hostNs, "ip", ["-o", "link"]).stdout.split("\n").map((l) => l.replace(/^\d+: /, "").split(":")[0]).sort(),
        pins: leftovers(env).pins,
      });
      // One pod first: the shared chains and the bridge are made once and stay, as with any runtime.
      await cycle("p0");
      const baseline = snapshot();
      const lanes = 4;
      await Promise.all(Array.from({ length: lanes }, async (_, lane) => {
        for (let i = 0; i < 200 / lanes; i++) await cycle(`p${lane + 1}`);
      }));
      assert.deepEqual(snapshot(), baseline);
      assert.deepEqual(networkLeftovers(env), nothingLeft);
    } finally {
      await stopDaemon(d, "SIGKILL");
      destroyEnv(env);
    }
  });
});
