// A pod's resolv.conf as the kubelet forms it: the policy's base, dnsConfig merged in, the
// resolver's limits with the kubelet's warnings.
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatResolvConf, parseResolvConf, podDnsConfig } from "../../supervisor/runtime/network/dns.ts";

const host = parseResolvConf("# the host's\nnameserver 192.0.2.1\nnameserver 192.0.2.2 ; a comment\nsearch old.example\nsearch lan.example\noptions ndots:1 timeout:2\n");
const podOf = (spec: Record<string, unknown>) => ({ metadata: { name: "web", namespace: "ns", uid: "u1" }, spec: spec as never });

test("the host's file: nameservers, the last search line, options", () => {
  assert.deepEqual(host, { servers: ["192.0.2.1", "192.0.2.2"], searches: ["lan.example"], options: ["ndots:1", "timeout:2"] });
  assert.equal(formatResolvConf(host), "search lan.example\nnameserver 192.0.2.1\nnameserver 192.0.2.2\noptions ndots:1 timeout:2\n");
});

test("each dnsPolicy, with and without hostNetwork", () => {
  const first = podDnsConfig(podOf({}), host);
  assert.deepEqual(first.config, host, "ClusterFirst without a cluster DNS is Default");
  assert.deepEqual(first.warnings.map((w) => w.reason), ["MissingClusterDNS"]);
  assert.match(first.warnings[0]!.message, /^pod: "web_ns\(u1\)"\. podd does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy\. Falling back to "Default" policy\.$/);
  assert.deepEqual(podDnsConfig(podOf({ hostNetwork: true }), host).warnings, [], "with hostNetwork ClusterFirst means Default, silently");
  assert.deepEqual(podDnsConfig(podOf({ hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" }), host).warnings.map((w) => w.reason), ["MissingClusterDNS"]);
  assert.deepEqual(podDnsConfig(podOf({ dnsPolicy: "Default" }), host), { config: host, warnings: [] });
  assert.deepEqual(podDnsConfig(podOf({ dnsPolicy: "None", dnsConfig: { nameservers: ["192.0.2.53"] } }), host).config, { servers: ["192.0.2.53"], searches: [], options: [] });
});

test("dnsConfig is merged as the kubelet merges it, and cut to the resolver's limits", () => {
  const merged = podDnsConfig(podOf({ dnsPolicy: "Default", dnsConfig: { nameservers: ["192.0.2.2", "192.0.2.3"], searches: ["a.example", "lan.example"], options: [{ name: "ndots", value: "5" }, { name: "edns0" }] } }), host);
  assert.deepEqual(merged.config, { servers: ["192.0.2.1", "192.0.2.2", "192.0.2.3"], searches: ["lan.example", "a.example"], options: ["ndots:5", "timeout:2", "edns0"] });
  assert.deepEqual(merged.warnings, []);
  const many = podDnsConfig(podOf({ dnsPolicy: "Default", dnsConfig: { nameservers: ["192.0.2.3", "192.0.2.4"], searches: Array.from({ length: 40 }, (_, i) => `s${i}.example`) } }), host);
  assert.deepEqual(many.config.servers, ["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
  assert.equal(many.config.searches.length, 32);
  assert.deepEqual(many.warnings.map((w) => w.reason), ["DNSConfigForming", "DNSConfigForming"]);
  assert.match(many.warnings[0]!.message, /^Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 192\.0\.2\.1 192\.0\.2\.2 192\.0\.2\.3$/);
  const long = podDnsConfig(podOf({ dnsPolicy: "None", dnsConfig: { nameservers: ["192.0.2.1"], searches: Array.from({ length: 20 }, (_, i) => `${"x".repeat(200)}${i}.example`) } }), host);
  assert.ok(long.config.searches.join(" ").length <= 2048);
  assert.match(long.warnings[0]!.message, /^Search Line limits were exceeded/);
});

test("parseResolvConf: '#' and ';' comments, blank lines and tabs; domain and search, the later line winning; options from every line; a nameserver without an address ignored", () => {
  const text = [
    "; written by a DHCP client",
    "   # indented comment",
    "",
    "nameserver\t10.0.0.1",
    "nameserver",
    "domain corp.example",
    "nameserver 10.0.0.2 # secondary",
    "options ndots:2",
    "options rotate\tattempts:3",
    "search a.example b.example",
  ].join("\n");
  assert.deepEqual(parseResolvConf(text), { servers: ["10.0.0.1", "10.0.0.2"], searches: ["a.example", "b.example"], options: ["ndots:2", "rotate", "attempts:3"] });
  // domain after search replaces it, as the resolver reads it.
  assert.deepEqual(parseResolvConf("search a.example b.example\ndomain corp.example\n").searches, ["corp.example"]);
  assert.deepEqual(parseResolvConf(""), { servers: [], searches: [], options: [] });
});

test("formatResolvConf: search, then nameservers, then options; lines with nothing left out", () => {
  assert.equal(formatResolvConf({ servers: ["192.0.2.53"], searches: [], options: [] }), "nameserver 192.0.2.53\n");
  assert.equal(formatResolvConf({ servers: [], searches: ["x.example"], options: ["ndots:5", "edns0"] }), "search x.example\noptions ndots:5 edns0\n");
  // What formatResolvConf writes, parseResolvConf reads back.
  const c = { servers: ["192.0.2.1", "2001:db8::1"], searches: ["ns.example", "example"], options: ["ndots:3", "single-request"] };
  assert.deepEqual(parseResolvConf(formatResolvConf(c)), c);
});

test("MissingClusterDNS names the pod as name_namespace(uid) and the policy asked for; the default namespace when none is set", () => {
  const noNs = podDnsConfig({ metadata: { name: "job", uid: "abc-123" }, spec: {} as never }, host);
  assert.equal(noNs.warnings[0]!.message, 'pod: "job_default(abc-123)". podd does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirst" policy. Falling back to "Default" policy.');
  // ClusterFirstWithHostNet asks for the cluster's DNS with or without hostNetwork.
  for (const hostNetwork of [true, false]) {
    const r = podDnsConfig(podOf({ hostNetwork, dnsPolicy: "ClusterFirstWithHostNet" }), host);
    assert.deepEqual(r.config, host);
    assert.deepEqual(r.warnings, [{ reason: "MissingClusterDNS", message: 'pod: "web_ns(u1)". podd does not have ClusterDNS IP configured and cannot create Pod using "ClusterFirstWithHostNet" policy. Falling back to "Default" policy.' }]);
  }
  // An explicit ClusterFirst is the default's policy: the same warning, and none with hostNetwork.
  assert.deepEqual(podDnsConfig(podOf({ dnsPolicy: "ClusterFirst" }), host).warnings.map((w) => w.reason), ["MissingClusterDNS"]);
  assert.deepEqual(podDnsConfig(podOf({ dnsPolicy: "ClusterFirst", hostNetwork: true }), host), { config: host, warnings: [] });
  assert.deepEqual(podDnsConfig(podOf({ dnsPolicy: "Default", hostNetwork: true }), host), { config: host, warnings: [] });
});

test("dnsPolicy None: only dnsConfig, nothing of the host's, no warning", () => {
  assert.deepEqual(podDnsConfig(podOf({ dnsPolicy: "None", hostNetwork: true, dnsConfig: { nameservers: ["192.0.2.53", "192.0.2.53"], searches: ["svc.example"], options: [{ name: "ndots", value: "2" }, { name: "edns0" }] } }), host), {
    config: { servers: ["192.0.2.53"], searches: ["svc.example"], options: ["ndots:2", "edns0"] },
    warnings: [],
  });
  assert.deepEqual(podDnsConfig(podOf({ dnsPolicy: "None" }), host).config, { servers: [], searches: [], options: [] });
});

test("dnsConfig merging: with the cluster-less ClusterFirst too; an option given again replaces the value in its place; a value of '' is no value; the host's config is not changed", () => {
  const before = structuredClone(host);
  const r = podDnsConfig(podOf({ dnsConfig: { nameservers: ["192.0.2.1"], searches: ["lan.example", "pod.example"], options: [{ name: "timeout", value: "" }, { name: "ndots", value: "3" }, { name: "attempts", value: "4" }, { value: "nameless" }] } }), host);
  assert.deepEqual(r.config, { servers: ["192.0.2.1", "192.0.2.2"], searches: ["lan.example", "pod.example"], options: ["ndots:3", "timeout", "attempts:4"] });
  assert.deepEqual(r.warnings.map((w) => w.reason), ["MissingClusterDNS"]);
  assert.deepEqual(host, before);
});

test("limits: three nameservers and 32 search paths pass; one more of either is cut, with the kubelet's warning", () => {
  const none = (servers: string[], searches: string[]) => podOf({ dnsPolicy: "None", dnsConfig: { nameservers: servers, searches } });
  const names = (n: number) => Array.from({ length: n }, (_, i) => `s${i}.example`);
  const three = ["192.0.2.1", "192.0.2.2", "192.0.2.3"];
  assert.deepEqual(podDnsConfig(none(three, names(32)), host), { config: { servers: three, searches: names(32), options: [] }, warnings: [] });
  const over = podDnsConfig(none([...three, "192.0.2.4"], names(33)), host);
  assert.deepEqual(over.config, { servers: three, searches: names(32), options: [] });
  assert.deepEqual(over.warnings, [
    { reason: "DNSConfigForming", message: "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 192.0.2.1 192.0.2.2 192.0.2.3" },
    { reason: "DNSConfigForming", message: `Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${names(32).join(" ")}` },
  ]);
  // The host's file and dnsConfig together can pass the limit where neither does alone.
  const merged = podDnsConfig(podOf({ dnsPolicy: "Default", dnsConfig: { nameservers: ["192.0.2.8", "192.0.2.9"] } }), host);
  assert.deepEqual(merged.config.servers, ["192.0.2.1", "192.0.2.2", "192.0.2.8"]);
  assert.deepEqual(merged.warnings.map((w) => w.reason), ["DNSConfigForming"]);
});

test("limits: a search line of exactly 2048 characters passes; at 2049 the last path goes", () => {
  // 16 paths and 15 spaces: 15 × 127 + 128 + 15 = 2048.
  const paths = (lastLength: number) => [...Array.from({ length: 15 }, (_, i) => `${String(i).padStart(2, "0")}${"a".repeat(117)}.example`), `zz${"b".repeat(lastLength - 10)}.example`];
  const exact = paths(128);
  assert.equal(exact.join(" ").length, 2048);
  const fits = podDnsConfig(podOf({ dnsPolicy: "None", dnsConfig: { nameservers: ["192.0.2.1"], searches: exact } }), host);
  assert.deepEqual(fits.config.searches, exact);
  assert.deepEqual(fits.warnings, []);
  const long = paths(129);
  assert.equal(long.join(" ").length, 2049);
  const cut = podDnsConfig(podOf({ dnsPolicy: "None", dnsConfig: { nameservers: ["192.0.2.1"], searches: long } }), host);
  assert.deepEqual(cut.config.searches, long.slice(0, 15));
  assert.deepEqual(cut.warnings, [{ reason: "DNSConfigForming", message: `Search Line limits were exceeded, some search paths have been omitted, the applied search line is: ${long.slice(0, 15).join(" ")}` }]);
});

test("the host's file read as the kubelet reads it: no '.' search path, no trailing dots, the last option of a name, no path longer than a domain name", () => {
  const c = parseResolvConf("nameserver 192.0.2.1\nsearch . a.example. b.example\noptions ndots:1 rotate\noptions ndots:2\n");
  assert.deepEqual(c, { servers: ["192.0.2.1"], searches: ["a.example", "b.example"], options: ["ndots:2", "rotate"] });
  const long = podDnsConfig(podOf({ dnsPolicy: "Default" }), { servers: ["192.0.2.1"], searches: ["ok.example", "x".repeat(254)], options: [] });
  assert.deepEqual(long.config.searches, ["ok.example"]);
  assert.deepEqual(long.warnings.map((w) => w.reason), ["DNSConfigForming"]);
});
