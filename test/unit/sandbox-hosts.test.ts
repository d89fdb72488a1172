// The pod's /etc/hosts as the kubelet writes it: the localhost lines, the pod's hostname (its
// FQDN first when it has a subdomain), then hostAliases.
import assert from "node:assert/strict";
import { test } from "node:test";
import { hostsFile } from "../../supervisor/runtime/sandbox.ts";

test("hostname, with a subdomain its FQDN first, and hostAliases after", () => {
  const plain = hostsFile({ hostname: "web", hostAliases: [], pod: { namespace: "default" } });
  assert.match(plain, /^# Kubernetes-managed hosts file \(podd\)\.\n127\.0\.0\.1\tlocalhost\n/);
  assert.match(plain, /\n127\.0\.1\.1\tweb\n$/);
  const sub = hostsFile({ hostname: "busybox-1", subdomain: "busybox-subdomain", hostAliases: [{ ip: "10.1.2.3", hostnames: ["foo.local", "bar.local"] }], pod: { namespace: "team" } });
  assert.match(sub, /\n127\.0\.1\.1\tbusybox-1\.busybox-subdomain\.team\.svc\.cluster\.local\tbusybox-1\n\n# Entries added by HostAliases\.\n10\.1\.2\.3\tfoo\.local\tbar\.local\n$/);
});
