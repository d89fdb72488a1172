import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { formatDiagnostic, loadManifests } from "../../pod-specs/index.ts";
import { DNS1123_SUBDOMAIN_MESSAGE } from "../../pod-specs/names.ts";

const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const QTY_MSG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const SUBDOMAIN = DNS1123_SUBDOMAIN_MESSAGE;

// A valid pod; each case replaces one marked line (or appends lines) to break one thing.
function pod(spec: string, metadata = "  name: p\n"): string {
  return `apiVersion: v1\nkind: Pod\nmetadata:\n${metadata}spec:\n${spec}`;
}
const c = (extra = "", name = "app", image = "      image: app:1\n") => `    - name: ${name}\n${image}${extra}`;
const containers = (...cs: string[]) => `  containers:\n${cs.join("")}`;

// [name, text, expected "line:col: path: message" (file name left out)]
const cases: Array<[string, string, string[]]> = [
  ["pod name not a label", pod(containers(c()), "  name: My.Pod\n"), [
    `4:9: metadata.name: Invalid value: "My.Pod": ${LABEL_MSG}; podd uses the pod name in paths and host names, so it must be a label where Kubernetes would allow a subdomain`,
  ]],
  ["pod name too long", pod(containers(c()), `  name: ${"a".repeat(64)}\n`), [
    `4:9: metadata.name: Invalid value: "${"a".repeat(64)}": must be no more than 63 characters`,
  ]],
  ["pod name missing", pod(containers(c()), "  labels: {a: b}\n"), ["4:3: metadata.name: Required value"]],
  ["namespace", pod(containers(c()), "  name: p\n  namespace: Prod\n"), [`5:14: metadata.namespace: Invalid value: "Prod": ${LABEL_MSG}`]],
  ["label key and value", pod(containers(c()), "  name: p\n  labels:\n    bad key: ok\n    good: -bad\n"), [
    `6:5: metadata.labels: Invalid value: "bad key": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
    `7:11: metadata.labels: Invalid value: "-bad": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`,
  ]],
  ["label value too long", pod(containers(c()), `  name: p\n  labels:\n    k: ${"v".repeat(64)}\n`), [
    `6:8: metadata.labels: Invalid value: "${"v".repeat(64)}": must be no more than 63 characters`,
  ]],
  ["label prefix", pod(containers(c()), "  name: p\n  labels:\n    Example.com/x: v1\n"), [
    `6:5: metadata.labels: Invalid value: "Example.com/x": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
  ]],
  ["no containers", pod("  containers: []\n"), ["6:15: spec.containers: Required value"]],
  ["no spec.containers key", pod("  restartPolicy: Never\n"), ["6:3: spec.containers: Required value"]],
  ["missing image", pod(containers(c("", "app", ""))), ["7:7: spec.containers[0].image: Required value"]],
  ["null image", pod(containers(c("", "app", "      image:\n"))), ["8:13: spec.containers[0].image: Required value"]],
  ["container name", pod(containers(c("", "App_1"))), [`7:13: spec.containers[0].name: Invalid value: "App_1": ${LABEL_MSG}`]],
  ["duplicate container across init and app", pod(`  initContainers:\n${c()}${containers(c())}`), [
    '10:13: spec.containers[0].name: Duplicate value: "app"',
  ]],
  ["restartPolicy", pod(containers(c()) + "  restartPolicy: Sometimes\n"), [
    '9:18: spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
  ]],
  ["imagePullPolicy", pod(containers(c("      imagePullPolicy: always\n"))), [
    '9:24: spec.containers[0].imagePullPolicy: Unsupported value: "always": supported values: "Always", "IfNotPresent", "Never"',
  ]],
  ["dnsPolicy", pod(containers(c()) + "  dnsPolicy: Cluster\n"), [
    '9:14: spec.dnsPolicy: Unsupported value: "Cluster": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"',
  ]],
  ["grace period and deadline", pod(containers(c()) + "  terminationGracePeriodSeconds: -1\n  activeDeadlineSeconds: 0\n"), [
    "9:34: spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0",
    "10:26: spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
  ]],
  ["ports", pod(containers(
    c("      ports:\n        - containerPort: 0\n        - containerPort: 80\n          protocol: tcp\n        - containerPort: 8080\n          name: http\n"),
    c("      ports:\n        - containerPort: 8080\n          name: http\n        - {containerPort: 53, protocol: UDP}\n        - {containerPort: 53, protocol: TCP}\n        - {containerPort: 53, protocol: UDP}\n", "b"),
  )), [
    "10:26: spec.containers[0].ports[0].containerPort: Invalid value: 0: must be between 1 and 65535, inclusive",
    '12:21: spec.containers[0].ports[1].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"',
    '18:26: spec.containers[1].ports[0].containerPort: Invalid value: 8080: Duplicate value: "8080/TCP": already used by spec.containers[0].ports[2]',
    '22:27: spec.containers[1].ports[3].containerPort: Invalid value: 53: Duplicate value: "53/UDP": already used by spec.containers[1].ports[1]',
  ]],
  ["port name", pod(containers(c("      ports:\n        - {containerPort: 80, name: web-server-http-1}\n"))), [
    '10:37: spec.containers[0].ports[0].name: Invalid value: "web-server-http-1": must be no more than 15 characters',
  ]],
  ["env names and sources", pod(containers(c(
    "      env:\n        - name: 'A=B'\n          value: x\n        - name: OK\n          value: v\n          valueFrom: {fieldRef: {fieldPath: metadata.name}}\n        - name: F\n          valueFrom: {fieldRef: {fieldPath: spec.host}}\n        - name: R\n          valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 2}}\n        - name: E\n          valueFrom: {}\n",
  ))), [
    "10:17: spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
    '14:22: spec.containers[0].env[1].valueFrom: Invalid value: "": may not be specified when `value` is not empty',
    '16:45: spec.containers[0].env[2].valueFrom.fieldRef.fieldPath: Unsupported value: "spec.host": supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"',
    '18:73: spec.containers[0].env[3].valueFrom.resourceFieldRef.divisor: Unsupported value: "2": supported values: "1m", "1"',
    '20:22: spec.containers[0].env[4].valueFrom: Invalid value: "": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef` or `fileKeyRef`',
  ]],
  ["quantities", pod(containers(
    c("      resources:\n        limits:\n          cpu: 1.5.5\n          memory: 1 Mi\n        requests:\n          memory: 1mi\n          cpu: Mi\n"),
    c("      resources:\n        limits: {memory: -1}\n", "b"),
  )), [
    `11:16: spec.containers[0].resources.limits.cpu: ${QTY_MSG}`,
    `12:19: spec.containers[0].resources.limits.memory: ${QTY_MSG}`,
    "14:19: spec.containers[0].resources.requests.memory: unable to parse quantity's suffix",
    `15:16: spec.containers[0].resources.requests.cpu: ${QTY_MSG}`,
    '19:26: spec.containers[1].resources.limits.memory: Invalid value: "-1": must be greater than or equal to 0',
  ]],
  ["requests above limits", pod(containers(c("      resources:\n        requests: {cpu: \"2\", memory: 1Gi}\n        limits: {cpu: 1500m, memory: 1Gi}\n"))), [
    '10:25: spec.containers[0].resources.requests.cpu: Invalid value: "2": must be less than or equal to cpu limit of 1500m',
  ]],
  ["resource name", pod(containers(c("      resources:\n        limits: {cpus: 1}\n"))), [
    "10:9: spec.containers[0].resources.limits: not supported yet by podd; podd limits cpu and memory only",
    '10:18: spec.containers[0].resources.limits.cpus: Unsupported value: "cpus": supported values: "cpu", "memory"',
  ]],
  ["volumes", pod(containers(c()) + "  volumes:\n    - name: data\n      emptyDir: {medium: Disk}\n    - name: data\n      hostPath: {path: etc, type: Dir}\n    - name: Bad\n      emptyDir: {}\n      hostPath: {path: /x}\n"), [
    '11:26: spec.volumes[0].emptyDir.medium: Unsupported value: "Disk": supported values: "", "Memory"',
    '12:13: spec.volumes[1].name: Duplicate value: "data"',
    '13:24: spec.volumes[1].hostPath.path: Invalid value: "etc": must be an absolute path',
    '13:35: spec.volumes[1].hostPath.type: Unsupported value: "Dir": supported values: "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"',
    `14:13: spec.volumes[2].name: Invalid value: "Bad": ${LABEL_MSG}`,
    "16:7: spec.volumes[2]: Forbidden: may not specify more than 1 volume type (found emptyDir, hostPath)",
  ]],
  ["volume mounts", pod(containers(c("      volumeMounts:\n        - {name: data, mountPath: /data}\n        - {name: nope, mountPath: data}\n        - {name: data, mountPath: /data/, subPath: ../etc}\n        - {name: data, mountPath: /other, subPath: /abs}\n")) + "  volumes:\n    - {name: data, emptyDir: {}}\n"), [
    '11:18: spec.containers[0].volumeMounts[1].name: Not found: "nope"',
    '11:35: spec.containers[0].volumeMounts[1].mountPath: Invalid value: "data": must be an absolute path',
    '12:35: spec.containers[0].volumeMounts[2].mountPath: Invalid value: "/data/": must be unique',
    "12:52: spec.containers[0].volumeMounts[2].subPath: Invalid value: \"../etc\": must not contain '..'",
    '13:52: spec.containers[0].volumeMounts[3].subPath: Invalid value: "/abs": must be a relative path',
  ]],
  ["probes and hooks", pod(containers(c("      lifecycle:\n        preStop: {}\n        postStart: {exec: {command: [a]}, httpGet: {port: 80}}\n"))), [
    "10:18: spec.containers[0].lifecycle.preStop: Required value: must specify a handler type (one of `exec`, `httpGet`, `tcpSocket`, `sleep`)",
    "11:43: spec.containers[0].lifecycle.postStart.httpGet: Forbidden: may not specify more than 1 handler type",
  ]],
  ["init container hooks", pod(`  initContainers:\n${c("      lifecycle: {preStop: {exec: {command: [x]}}}\n", "init")}${containers(c())}`), [
    "9:18: spec.initContainers[0].lifecycle: Forbidden: may not be set for init containers without restartPolicy=Always",
  ]],
  ["container restartPolicy", pod(`  initContainers:\n${c("      restartPolicy: OnFailure\n", "init")}${containers(c("      restartPolicy: Always\n"), c("      restartPolicy: Sometimes\n", "other"))}`), [
    "9:7: spec.initContainers[0].restartPolicy: not supported yet by podd; podd runs restartPolicy: Always (sidecar) init containers only",
    "13:7: spec.containers[0].restartPolicy: not supported yet by podd; set the pod's restartPolicy instead",
    '16:22: spec.containers[1].restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
  ]],
  ["hostNetwork", pod(containers(c("      ports: [{containerPort: 80, hostPort: 8080}]\n")) + "  hostNetwork: true\n  hostname: web\n"), [
    "9:45: spec.containers[0].ports[0].hostPort: Invalid value: 8080: must match `containerPort` when `hostNetwork` is true",
  ]],
  ["host ports: one protocol, address and port once per pod", pod(containers(c("      ports: [{containerPort: 80, hostPort: 8080}, {containerPort: 81, hostPort: 8080, protocol: UDP}]\n"), c("      ports: [{containerPort: 82, hostPort: 8080}, {containerPort: 83, hostPort: 8080, hostIP: 127.0.0.1}]\n", "other"))), [
    '12:45: spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"',
  ]],
  ["dnsConfig: the resolver's limits, addresses, domain names, option names", pod(containers(c()) + "  dnsPolicy: None\n  dnsConfig:\n    nameservers: [1.1.1.1, 2.2.2.2, 3.3.3.3, dns.example]\n    searches: [a.example., '.', -bad]\n    options: [{value: '2'}]\n"), [
    "11:18: spec.dnsConfig.nameservers: Invalid value: 4: must not have more than 3 nameservers",
    '11:46: spec.dnsConfig.nameservers[3]: Invalid value: "dns.example": must be valid IP address',
    `12:33: spec.dnsConfig.searches[2]: Invalid value: "-bad": ${SUBDOMAIN}`,
    "13:15: spec.dnsConfig.options[0].name: Required value",
  ]],
  ["dnsPolicy None needs a nameserver", pod(containers(c()) + "  dnsPolicy: None\n  dnsConfig: {searches: [example.com]}\n"), [
    "10:14: spec.dnsConfig.nameservers: Required value: must provide at least one DNS nameserver when `dnsPolicy` is None",
  ]],
  ["security context", pod(containers(c("      securityContext: {runAsUser: -1, privileged: true, allowPrivilegeEscalation: false}\n")) + "  securityContext: {runAsNonRoot: true, runAsUser: 0}\n"), [
    "9:36: spec.containers[0].securityContext.runAsUser: Invalid value: -1: must be between 0 and 2147483647, inclusive",
    "9:84: spec.containers[0].securityContext.allowPrivilegeEscalation: Invalid value: false: cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
    "10:35: spec.securityContext.runAsNonRoot: Invalid value: true: conflicts with runAsUser 0: the container would run as root",
  ]],
  ["pod groups and their policies", pod(containers(c()) + "  securityContext:\n    fsGroup: -1\n    supplementalGroups: [1000, 2147483648]\n    fsGroupChangePolicy: Sometimes\n    supplementalGroupsPolicy: merge\n"), [
    "10:14: spec.securityContext.fsGroup: Invalid value: -1: must be between 0 and 2147483647, inclusive",
    "11:32: spec.securityContext.supplementalGroups[1]: Invalid value: 2147483648: must be between 0 and 2147483647, inclusive",
    '12:26: spec.securityContext.fsGroupChangePolicy: Unsupported value: "Sometimes": supported values: "Always", "OnRootMismatch"',
    '13:31: spec.securityContext.supplementalGroupsPolicy: Unsupported value: "merge": supported values: "Merge", "Strict"',
  ]],
  ["sysctls: names, values, duplicates, hostNetwork", pod(containers(c()) + `  hostNetwork: true
  securityContext:
    sysctls:
      - {name: net.core.somaxconn, value: "1024"}
      - {name: Kernel.Shm, value: "1"}
      - {name: kernel.shm_rmid_forced}
      - {name: kernel.shm_rmid_forced, value: "1"}
      - {value: "1"}
      - {name: net/ipv4/tcp_syncookies, value: "1"}
      - {name: kernel.msgmax, value: 65536}
`), [
    `12:16: spec.securityContext.sysctls[0].name: Invalid value: "net.core.somaxconn": may not be specified when 'hostNetwork' is true`,
    `13:16: spec.securityContext.sysctls[1].name: Invalid value: "Kernel.Shm": must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`,
    "14:9: spec.securityContext.sysctls[2].value: Required value",
    '15:16: spec.securityContext.sysctls[3].name: Duplicate value: "kernel.shm_rmid_forced"',
    "16:9: spec.securityContext.sysctls[4].name: Required value",
    `17:16: spec.securityContext.sysctls[5].name: Invalid value: "net/ipv4/tcp_syncookies": may not be specified when 'hostNetwork' is true`,
    '18:38: spec.securityContext.sysctls[6].value: expected a string, got number 65536; quote it: "65536"',
  ]],
  ["sysctls with hostIPC", pod(containers(c()) + "  hostIPC: true\n  securityContext:\n    sysctls: [{name: kernel.shm_rmid_forced, value: '1'}, {name: fs.mqueue.msg_max, value: '20'}, {name: net.ipv4.tcp_syncookies, value: '1'}]\n"), [
    `11:22: spec.securityContext.sysctls[0].name: Invalid value: "kernel.shm_rmid_forced": may not be specified when 'hostIPC' is true`,
    `11:66: spec.securityContext.sysctls[1].name: Invalid value: "fs.mqueue.msg_max": may not be specified when 'hostIPC' is true`,
  ]],
  ["host aliases", pod(containers(c()) + "  hostAliases: [{ip: 300.1.1.1, hostnames: [Bad]}, {hostnames: [a]}]\n"), [
    '9:22: spec.hostAliases[0].ip: Invalid value: "300.1.1.1": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
    `9:45: spec.hostAliases[0].hostnames[0]: Invalid value: "Bad": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    "9:52: spec.hostAliases[1].ip: Required value",
  ]],
  ["wrong types", pod(containers(c("      command: sleep 1\n      env:\n        - {name: PORT, value: 8080}\n      stdin: \"false\"\n      ports: [{containerPort: \"80\"}]\n"))), [
    '9:16: spec.containers[0].command: expected a list, got string "sleep 1"',
    '11:31: spec.containers[0].env[0].value: expected a string, got number 8080; quote it: "8080"',
    '12:14: spec.containers[0].stdin: expected a boolean (true or false), got string "false"',
    '13:31: spec.containers[0].ports[0].containerPort: expected an integer, got string "80"',
  ]],
  ["duplicate keys", pod(containers(c("      image: other:2\n"))), [
    '9:7: spec.containers[0].image: key "image" already set in map',
  ]],
  ["unsupported-yet fields", pod(containers(c("      livenessProbe: {exec: {command: [x]}}\n      volumeDevices: [{name: d, devicePath: /dev/xvda}]\n      tty: true\n      stdin: false\n")) + "  hostPID: true\n  hostIPC: true\n  schedulingGates: [{name: wait}]\n"), [
    "10:7: spec.containers[0].volumeDevices: not supported yet by podd; remove it to run the pod with podd",
    "11:7: spec.containers[0].tty: not supported yet by podd; podd attaches no terminal or stdin to a container yet; remove it",
    "15:3: spec.schedulingGates: not supported yet by podd; podd admits a pod when it is applied; apply it once it may run",
  ]],
  ["kind not supported", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n", ["2:7: kind: kind Deployment is not supported yet by podd; podd runs Pods; apply its pod template as a Pod"]],
  ["kind missing", "apiVersion: v1\nmetadata: {name: d}\n", ["1:1: kind: Required value: podd reads kind: Pod, Namespace, ConfigMap, Secret, PersistentVolumeClaim or List"]],
  ["apiVersion", "apiVersion: v2\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: i}]}\n", [
    '1:13: apiVersion: Unsupported value: "v2": supported values: "v1"',
  ]],
  ["not an object", "- just\n- a list\n", ["1:1: <root>: expected a Kubernetes object (a map with apiVersion and kind)"]],
  ["list item errors", "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Pod\n    metadata: {name: a}\n    spec: {containers: [{name: c}]}\n  - {apiVersion: v1, kind: Service, metadata: {name: s}}\n", [
    "7:25: items[0].spec.containers[0].image: Required value",
    "8:28: items[1].kind: kind Service is not supported yet by podd; podd runs Pods with their Namespaces, ConfigMaps, Secrets and PersistentVolumeClaims; remove it from the file",
  ]],
  ["same pod twice", "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: i}]}\n", [
    '8:18: metadata.name: Duplicate value: "a": another pod in this file has namespace/name default/a',
  ]],
  ["syntax error", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n spec: x\n", [
    "5:1: metadata.name: yaml: all mapping items must start at the same column",
  ]],
];

test("every kind of error, with position and path", () => {
  const failures: string[] = [];
  for (const [name, text, want] of cases) {
    const r = loadManifests(text, "pod.yaml");
    const got = r.errors.map((d) => formatDiagnostic(d).replace(/^pod\.yaml:/, ""));
    if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`${name}:\n  got  ${got.join("\n       ")}\n  want ${want.join("\n       ")}`);
    assert.deepEqual(r.pods, [], name);
  }
  assert.deepEqual(failures, []);
});

test("errors of all documents are reported together and reject the whole file", () => {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: good}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: bad-one}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: Bad}
spec: {containers: [{name: c, image: i}]}
---
{broken: [}
`;
  const r = loadManifests(text, "all.yaml");
  assert.deepEqual(r.pods, []);
  assert.deepEqual(r.errors.map((e) => `${e.line}:${e.col} ${e.path}`), [
    "9:21 spec.containers[0].image",
    "13:18 metadata.name",
    "16:11 broken",
    "16:12 broken",
  ]);
});

test("invalid fixtures", () => {
  const dir = fileURLToPath(new URL("../fixtures/manifests/invalid/", import.meta.url));
  const want: Record<string, string[]> = {
    "many-errors.yaml": [
      "4:9 metadata.name",
      "6:18 spec.restartPolicy",
      "12:19 spec.containers[0].resources.limits.memory",
      "13:7 spec.containers[1].image",
      "13:13 spec.containers[1].name",
      "14:24 spec.containers[1].imagePullPolicy",
      "16:26 spec.containers[1].ports[0].containerPort",
    ],
    "deployment.yaml": ["2:7 kind"],
    "unsupported.yaml": ["12:7 spec.containers[0].tty", "15:7 spec.volumes[0].nfs"],
    "syntax.yaml": ["9:1 spec.containers[0].image[0]"],
  };
  for (const [file, paths] of Object.entries(want)) {
    const r = loadManifests(readFileSync(dir + file, "utf8"), file);
    assert.deepEqual(r.errors.map((e) => `${e.line}:${e.col} ${e.path}`), paths, file);
    for (const e of r.errors) assert.equal(e.file, file);
  }
});
