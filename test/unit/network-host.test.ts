// The node's address (status.hostIP) from /proc/net/route and the host's interfaces, and the
// host ports a pod holds, admitted against those the other pods hold as the scheduler's
// NodePorts filter does.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { NetworkInterfaceInfo } from "node:os";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PoddError } from "../../supervisor/base/errors.ts";
import { hostAddress, parseDefaultRouteInterface } from "../../supervisor/runtime/network/host-address.ts";
import { admitHostPorts, hostPortsOf, type HostPort } from "../../supervisor/pod/admission.ts";
import type { Container, PodSpec } from "../../pod-specs/types.ts";

// /proc/net/route as the kernel prints it: a header, then tab-separated fields with trailing
// blanks; addresses and masks in little-endian hex, flags in hex (1 = RTF_UP, 2 = RTF_GATEWAY).
const HEADER = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       ";
const route = (iface: string, dest: string, gw: string, flags: string, metric: number, mask: string) => `${iface}\t${dest}\t${gw}\t${flags}\t0\t0\t${metric}\t${mask}\t0\t0\t0                                                                               `;
const routes = (...lines: string[]) => [HEADER, ...lines].join("\n") + "\n";

test("parseDefaultRouteInterface: the default route's interface", () => {
  const text = routes(route("eth0", "00000000", "0100A8C0", "0003", 100, "00000000"), route("eth0", "0000A8C0", "00000000", "0001", 100, "00FFFFFF"), route("podd0", "00005710", "00000000", "0001", 0, "0000FFFF"));
  assert.equal(parseDefaultRouteInterface(text), "eth0");
});

test("parseDefaultRouteInterface: the lowest metric wins, whatever the order", () => {
  const wifi = route("wlan0", "00000000", "0101A8C0", "0003", 600, "00000000");
  const wired = route("enp3s0", "00000000", "0100A8C0", "0003", 100, "00000000");
  assert.equal(parseDefaultRouteInterface(routes(wifi, wired)), "enp3s0");
  assert.equal(parseDefaultRouteInterface(routes(wired, wifi)), "enp3s0");
  // A tie: the first listed, as the kernel prefers it.
  assert.equal(parseDefaultRouteInterface(routes(route("a0", "00000000", "01000000", "0003", 50, "00000000"), route("b0", "00000000", "02000000", "0003", 50, "00000000"))), "a0");
});

test("parseDefaultRouteInterface: routes that are down or not default are not the default route", () => {
  // Down (flags without RTF_UP), though its metric is the lowest.
  const down = route("eth9", "00000000", "0100A8C0", "0002", 1, "00000000");
  // Destination 0 with a mask that is not 0: not a default route.
  const half = route("tun0", "00000000", "00000000", "0001", 0, "00000080");
  // Mask 0 with a destination that is not 0 (malformed, but not default either).
  const odd = route("tun1", "0000000A", "00000000", "0001", 0, "00000000");
  const real = route("eth0", "00000000", "0100A8C0", "0003", 100, "00000000");
  assert.equal(parseDefaultRouteInterface(routes(down, half, odd, real)), "eth0");
  assert.equal(parseDefaultRouteInterface(routes(down, half, odd)), undefined);
});

test("parseDefaultRouteInterface: no default route, an empty file, a header alone, short lines", () => {
  assert.equal(parseDefaultRouteInterface(routes(route("eth0", "0000A8C0", "00000000", "0001", 100, "00FFFFFF"))), undefined);
  assert.equal(parseDefaultRouteInterface(""), undefined);
  assert.equal(parseDefaultRouteInterface(HEADER + "\n"), undefined);
  assert.equal(parseDefaultRouteInterface(routes("eth0\t00000000\t0100A8C0\t0003")), undefined);
  // The header itself is never taken for a route, whatever it holds.
  assert.equal(parseDefaultRouteInterface("eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"), undefined);
});

const v4 = (address: string, internal = false): NetworkInterfaceInfo => ({ address, netmask: "255.255.255.0", family: "IPv4", mac: "02:00:00:00:00:01", internal, cidr: `${address}/24` });
const v6 = (address: string, internal = false): NetworkInterfaceInfo => ({ address, netmask: "ffff:ffff:ffff:ffff::", family: "IPv6", mac: "02:00:00:00:00:01", internal, cidr: `${address}/64`, scopeid: 0 });
const LO = [v4("127.0.0.1", true), v6("::1", true)];

function withProc(routeText: string | undefined, body: (procRoot: string) => void): void {
  const procRoot = mkdtempSync(join(tmpdir(), "podd-proc-"));
  try {
    mkdirSync(join(procRoot, "net"));
    if (routeText !== undefined) writeFileSync(join(procRoot, "net", "route"), routeText);
    body(procRoot);
  } finally {
    rmSync(procRoot, { recursive: true, force: true });
  }
}

test("hostAddress: the IPv4 address of the default route's interface, not of the interfaces listed before it", () => {
  withProc(routes(route("wlan0", "00000000", "0101A8C0", "0003", 600, "00000000"), route("eth1", "00000000", "0100A8C0", "0003", 100, "00000000")), (proc) => {
    const interfaces = { lo: LO, docker0: [v4("172.17.0.1")], wlan0: [v4("192.168.1.20")], eth1: [v6("fd00::7"), v4("192.168.0.7")] };
    assert.equal(hostAddress(proc, interfaces), "192.168.0.7");
  });
});

test("hostAddress: without an IPv4 address on the route's interface, or without a default route, the first non-loopback IPv4 address", () => {
  const interfaces = { lo: LO, ens5: [v6("2001:db8::5")], br0: [v6("fe80::1"), v4("10.1.2.3")], eth7: [v4("10.9.9.9")] };
  withProc(routes(route("ens5", "00000000", "00000000", "0003", 0, "00000000")), (proc) => assert.equal(hostAddress(proc, interfaces), "10.1.2.3"));
  withProc(routes(route("br0", "0000010A", "00000000", "0001", 0, "00FFFFFF")), (proc) => assert.equal(hostAddress(proc, interfaces), "10.1.2.3"));
  // A default route through an interface the host no longer has.
  withProc(routes(route("gone0", "00000000", "0100A8C0", "0003", 0, "00000000")), (proc) => assert.equal(hostAddress(proc, interfaces), "10.1.2.3"));
  // No /proc/net/route at all (a procRoot without it): the same fallback, no error.
  withProc(undefined, (proc) => assert.equal(hostAddress(proc, { eth7: [v4("10.9.9.9")] }), "10.9.9.9"));
});

test("hostAddress: loopback when the host has no other IPv4 address", () => {
  withProc(routes(route("eth0", "00000000", "0100A8C0", "0003", 100, "00000000")), (proc) => {
    assert.equal(hostAddress(proc, { lo: LO }), "127.0.0.1");
    assert.equal(hostAddress(proc, { lo: LO, eth0: [v6("2001:db8::1")] }), "127.0.0.1");
    assert.equal(hostAddress(proc, {}), "127.0.0.1");
  });
});

test("hostAddress: a route file that cannot be read is an error naming it, not a silent fallback", () => {
  withProc(undefined, (proc) => {
    mkdirSync(join(proc, "net", "route"));
    assert.throws(
      () => hostAddress(proc, { eth0: [v4("10.0.0.2")] }),
      (err: Error) => err instanceof PoddError && err.message.startsWith(`read ${join(proc, "net", "route")}: `) && err.errno === "EISDIR",
    );
  });
});

// ---- host ports ----------------------------------------------------------------------------

const ctr = (name: string, ports: Container["ports"], extra: Partial<Container> = {}): Container => ({ name, image: "busybox", ports, ...extra });
type PortsSpec = Pick<PodSpec, "containers" | "initContainers" | "hostNetwork">;

test("hostPortsOf: the hostPorts of app containers and sidecars; a containerPort alone, and plain init containers, hold nothing", () => {
  const spec: PortsSpec = {
    initContainers: [ctr("setup", [{ containerPort: 9000, hostPort: 9000 }]), ctr("proxy", [{ containerPort: 15001, hostPort: 15001, protocol: "TCP" }], { restartPolicy: "Always" })],
    containers: [
      ctr("web", [{ containerPort: 80, hostPort: 8080 }, { containerPort: 443 }, { name: "dns", containerPort: 53, hostPort: 5353, protocol: "UDP", hostIP: "127.0.0.1" }]),
      ctr("sctp", [{ containerPort: 7777, hostPort: 7777, protocol: "SCTP", hostIP: "" }]),
      ctr("quiet", undefined),
    ],
  };
  assert.deepEqual(hostPortsOf(spec), [
    { hostPort: 15001, containerPort: 15001, protocol: "TCP" },
    { hostPort: 8080, containerPort: 80, protocol: "TCP" },
    { hostPort: 5353, containerPort: 53, protocol: "UDP", hostIP: "127.0.0.1" },
    { hostPort: 7777, containerPort: 7777, protocol: "SCTP" },
  ]);
  assert.deepEqual(hostPortsOf({ containers: [ctr("a", [{ containerPort: 80 }, { containerPort: 81, hostPort: 0 }])] }), []);
});

test("hostPortsOf with hostNetwork: every containerPort is held on the host, as the API server defaults hostPort to it", () => {
  const spec: PortsSpec = {
    hostNetwork: true,
    initContainers: [ctr("setup", [{ containerPort: 9000 }]), ctr("agent", [{ containerPort: 9100 }], { restartPolicy: "Always" })],
    containers: [ctr("web", [{ containerPort: 80 }, { containerPort: 53, protocol: "UDP", hostIP: "10.0.0.2" }, { containerPort: 8443, hostPort: 8443 }])],
  };
  assert.deepEqual(hostPortsOf(spec), [
    { hostPort: 9100, containerPort: 9100, protocol: "TCP" },
    { hostPort: 80, containerPort: 80, protocol: "TCP" },
    { hostPort: 53, containerPort: 53, protocol: "UDP", hostIP: "10.0.0.2" },
    { hostPort: 8443, containerPort: 8443, protocol: "TCP" },
  ]);
});

const port = (hostPort: number, protocol: HostPort["protocol"] = "TCP", hostIP?: string): HostPort => ({ hostPort, containerPort: 80, protocol, ...(hostIP !== undefined ? { hostIP } : {}) });

test("admitHostPorts: free ports, another protocol, another port, and two different specific addresses are admitted", () => {
  assert.deepEqual(admitHostPorts([port(8080)], []), { admit: true });
  assert.deepEqual(admitHostPorts([], [{ pod: "ns/a", ports: [port(8080)] }]), { admit: true });
  assert.deepEqual(admitHostPorts([port(8080, "UDP")], [{ pod: "ns/a", ports: [port(8080, "TCP")] }]), { admit: true });
  assert.deepEqual(admitHostPorts([port(8080, "SCTP")], [{ pod: "ns/a", ports: [port(8080, "TCP"), port(8080, "UDP")] }]), { admit: true });
  assert.deepEqual(admitHostPorts([port(8081)], [{ pod: "ns/a", ports: [port(8080)] }]), { admit: true });
  assert.deepEqual(admitHostPorts([port(8080, "TCP", "127.0.0.1")], [{ pod: "ns/a", ports: [port(8080, "TCP", "10.0.0.2")] }]), { admit: true });
});

test("admitHostPorts: the same port and protocol on every address or on the same address is refused, with the port and the holder named", () => {
  const held = [
    { pod: "ns/other", ports: [port(9090)] },
    { pod: "team/web", ports: [port(53, "UDP"), port(8080, "TCP", "10.0.0.2")] },
  ];
  const refused = (wanted: HostPort[]) => {
    const a = admitHostPorts(wanted, held);
    assert.equal(a.admit, false, `${JSON.stringify(wanted)} admitted`);
    return a as { admit: false; reason: string; message: string };
  };
  // Every address (hostIP unset) against a specific one.
  assert.deepEqual(refused([port(8080)]), {
    admit: false,
    reason: "NodePorts",
    message: "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports: hostPort 8080/TCP is held by pod team/web (10.0.0.2:8080/TCP)",
  });
  // A specific address against every address.
  assert.equal(refused([port(9090, "TCP", "127.0.0.1")]).message, "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports: hostPort 127.0.0.1:9090/TCP is held by pod ns/other (9090/TCP)");
  // The same specific address.
  assert.match(refused([port(8080, "TCP", "10.0.0.2")]).message, /hostPort 10\.0\.0\.2:8080\/TCP is held by pod team\/web \(10\.0\.0\.2:8080\/TCP\)$/);
  // 0.0.0.0, "" and :: mean every address, as an unset hostIP does.
  for (const any of ["0.0.0.0", "", "::"]) assert.match(refused([port(8080, "TCP", any)]).message, /is held by pod team\/web \(10\.0\.0\.2:8080\/TCP\)$/, `hostIP ${JSON.stringify(any)}`);
  assert.match(refused([port(53, "UDP", "192.0.2.1")]).message, /hostPort 192\.0\.2\.1:53\/UDP is held by pod team\/web \(53\/UDP\)$/);
  // The first port that collides is the one named, after the free ones before it.
  assert.match(refused([port(1234), port(53, "UDP"), port(9090)]).message, /hostPort 53\/UDP is held by pod team\/web \(53\/UDP\)$/);
});

test("admitHostPorts with hostPortsOf: a hostNetwork pod's containerPort collides with another pod's hostPort", () => {
  const hostNet: PortsSpec = { hostNetwork: true, containers: [ctr("web", [{ containerPort: 8080 }])] };
  const bridged: PortsSpec = { containers: [ctr("web", [{ containerPort: 80, hostPort: 8080 }])] };
  const plain: PortsSpec = { containers: [ctr("web", [{ containerPort: 8080 }])] };
  assert.equal(admitHostPorts(hostPortsOf(bridged), [{ pod: "ns/host", ports: hostPortsOf(hostNet) }]).admit, false);
  assert.equal(admitHostPorts(hostPortsOf(hostNet), [{ pod: "ns/bridged", ports: hostPortsOf(bridged) }]).admit, false);
  // Control: a pod on the pod network with a containerPort only holds nothing on the host.
  assert.equal(admitHostPorts(hostPortsOf(plain), [{ pod: "ns/host", ports: hostPortsOf(hostNet) }]).admit, true);
});
