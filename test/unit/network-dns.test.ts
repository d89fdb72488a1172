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
