// The pod's /etc/hosts as the kubelet writes it (the localhost lines, the pod's IPs with its
// hostname, its FQDN first when it has a subdomain, then hostAliases), then the other pods of
// its namespace; with hostNetwork the host's file under the kubelet's host-network header.
import assert from "node:assert/strict";
import { test } from "node:test";
import { hostsFile } from "../../supervisor/runtime/network/hosts.ts";

test("the pod's IP with its hostname, with a subdomain its FQDN first, and hostAliases after", () => {
  const plain = hostsFile({ hostname: "web", namespace: "default", ips: ["10.87.0.5"], hostAliases: [] });
  assert.match(plain, /^# Kubernetes-managed hosts file\.\n127\.0\.0\.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n/);
  assert.match(plain, /\nfe00::2\tip6-allrouters\n10\.87\.0\.5\tweb\n$/);
  const sub = hostsFile({ hostname: "busybox-1", subdomain: "busybox-subdomain", namespace: "team", ips: ["10.87.0.6"], hostAliases: [{ ip: "10.1.2.3", hostnames: ["foo.local", "bar.local"] }] });
  assert.match(sub, /\n10\.87\.0\.6\tbusybox-1\.busybox-subdomain\.team\.svc\.cluster\.local\tbusybox-1\n\n# Entries added by HostAliases\.\n10\.1\.2\.3\tfoo\.local\tbar\.local\n$/);
});

test("a pod the network gave no address resolves its hostname to loopback", () => {
  assert.match(hostsFile({ hostname: "web", namespace: "default", ips: [], hostAliases: [] }), /\n127\.0\.1\.1\tweb\n$/);
});

test("the other pods of the namespace follow, sorted by hostname; those without an address are left out", () => {
  const text = hostsFile({
    hostname: "web",
    namespace: "default",
    ips: ["10.87.0.5"],
    hostAliases: [],
    peers: [
      { hostname: "db", namespace: "default", ips: ["10.87.0.7"], subdomain: "data" },
      { hostname: "cache", namespace: "default", ips: ["10.87.0.8"] },
      { hostname: "pending", namespace: "default", ips: [] },
    ],
  });
  assert.match(text, /\n# Other pods of namespace default, kept current by podd\.\n10\.87\.0\.8\tcache\n10\.87\.0\.7\tdb\.data\.default\.svc\.cluster\.local\tdb\n$/);
  assert.doesNotMatch(text, /pending/);
  assert.doesNotMatch(hostsFile({ hostname: "web", namespace: "default", ips: [], hostAliases: [], peers: [] }), /Other pods/);
});

test("with hostNetwork: the host's file under the kubelet's header, then hostAliases", () => {
  const text = hostsFile({ hostname: "node", namespace: "default", ips: ["192.0.2.1"], hostAliases: [{ ip: "10.1.2.3", hostnames: ["x"] }], hostFile: "127.0.0.1 localhost\n192.0.2.1 node" });
  assert.equal(text, "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n192.0.2.1 node\n\n# Entries added by HostAliases.\n10.1.2.3\tx\n");
});
