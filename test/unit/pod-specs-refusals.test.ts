import { test } from "node:test";
import assert from "node:assert/strict";
import { applyDefaults, formatDiagnostic, loadManifests, type Pod } from "../../pod-specs/index.ts";

const pod = (spec: string, metadata = "  name: p\n") => `apiVersion: v1\nkind: Pod\nmetadata:\n${metadata}spec:\n${spec}`;
const app = (extra = "") => `  containers:\n    - name: app\n      image: app:1\n${extra}`;
const errors = (text: string) => loadManifests(text, "pod.yaml").errors.map((d) => formatDiagnostic(d).replace(/^pod\.yaml:/, ""));

test("no error is reported that only follows from a refused or unread field", () => {
  const cases: Array<[string, string, string[]]> = [
    ["fileKeyRef refused, the only member of valueFrom", pod(app("      env:\n        - name: A\n          valueFrom:\n            fileKeyRef: {volumeName: v, path: a.env, key: A}\n")), [
      "12:13: spec.containers[0].env[0].valueFrom.fileKeyRef: not supported yet by podd; podd reads no variables from files yet; set env values instead",
    ]],
    ["a typo in valueFrom", pod(app("      env:\n        - name: A\n          valueFrom:\n            fieldRf: {fieldPath: metadata.name}\n")), [
      '12:13: spec.containers[0].env[0].valueFrom.fieldRf: unknown field "fieldRf"; did you mean "fieldRef"?',
    ]],
    ["a typo of a required field", pod(app("      lifecycle:\n        preStop:\n          exec: {commands: [sh]}\n")), [
      '11:18: spec.containers[0].lifecycle.preStop.exec.commands: unknown field "commands"; did you mean "command"?',
    ]],
    ["generateName refused, the name it stands for", pod(app(), "  generateName: web-\n"), [
      "4:3: metadata.generateName: not supported yet by podd; set metadata.name instead",
    ]],
    ["a one-of whose member is refused", pod(app() + "  volumes:\n    - name: data\n      nfs: {server: nas, path: /x}\n"), [
      "11:7: spec.volumes[0].nfs: not supported yet by podd; podd mounts emptyDir, hostPath, image, configMap, secret, downwardAPI, projected and persistentVolumeClaim volumes only",
    ]],
    ["an unknown field inside a list item", pod("  containers:\n    - nmae: app\n      image: app:1\n"), [
      '7:7: spec.containers[0].nmae: unknown field "nmae"; did you mean "name"?',
    ]],
  ];
  const failures: string[] = [];
  for (const [name, text, want] of cases) {
    const got = errors(text);
    if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`${name}:\n  got  ${got.join("\n       ")}\n  want ${want.join("\n       ")}`);
  }
  assert.deepEqual(failures, []);
});

test("real problems next to a refused field are still reported", () => {
  // The second handler is an error whatever podd supports; a bad name is not a follow-up either.
  assert.deepEqual(errors(pod(app("      env:\n        - name: 'A=1'\n          valueFrom: {fileKeyRef: {volumeName: v, path: p, key: k}}\n"))), [
    `10:17: spec.containers[0].env[0].name: Invalid value: "A=1": a valid environment variable name must consist only of printable ASCII characters other than '='`,
    "11:23: spec.containers[0].env[0].valueFrom.fileKeyRef: not supported yet by podd; podd reads no variables from files yet; set env values instead",
  ]);
  assert.deepEqual(errors(pod(app() + "  dnsPolicy: None\n")), [
    "9:14: spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None",
  ]);
});

test("every Pod field of the current Kubernetes API is known: refused by name, never unknown", () => {
  const cases: Array<[string, string]> = [
    [pod(app() + "  volumes: [{name: d, emptyDir: {mode: 0750}}]\n"), "spec.volumes[0].emptyDir.mode"],
    [pod(app("      volumeMounts: [{name: d, mountPath: /d, bindMountOptions: [noexec]}]\n") + "  volumes: [{name: d, emptyDir: {}}]\n"), "spec.containers[0].volumeMounts[0].bindMountOptions"],
    [pod(app("      lifecycle: {postStart: {httpGet: {port: 80, protocol: HTTP2}}}\n")), "spec.containers[0].lifecycle.postStart.httpGet.protocol"],
    [pod(app("      livenessProbe: {grpc: {port: 9000, mode: TLS}}\n")), "spec.containers[0].livenessProbe.grpc.mode"],
    [pod(app() + "  schedulingGroup: {podGroupName: g}\n"), "spec.schedulingGroup"],
    [pod(app() + "  evictionResponders: [{name: r}]\n"), "spec.evictionResponders"],
    [pod(app() + "  hostnameOverride: box\n"), "spec.hostnameOverride"],
    [pod(app() + "  volumes: [{name: d, emptyDir: {medium: HugePages-2Mi}}]\n"), "spec.volumes[0].emptyDir.medium"],
    [pod(app(), "  name: p\n  resourceVersion: \"42\"\n  ownerReferences: []\n"), "metadata.resourceVersion"],
    [pod(app("      env: [{name: S, valueFrom: {resourceFieldRef: {resource: limits.ephemeral-storage}}}]\n")), "spec.containers[0].env[0].valueFrom.resourceFieldRef.resource"],
  ];
  for (const [text, path] of cases) {
    const r = loadManifests(text, "pod.yaml");
    assert.ok(r.errors.length > 0, path);
    for (const e of r.errors) assert.match(e.message, /^not supported yet by podd/, `${path}: ${formatDiagnostic(e)}`);
    assert.equal(r.errors[0]!.path, path);
  }
});

test("AppArmor: fields and annotations are checked as the API server checks them; seccomp annotations warn", () => {
  const annotated = (value: string, container = "app") => `  name: p\n  annotations:\n    container.apparmor.security.beta.kubernetes.io/${container}: ${value}\n`;
  for (const v of ["runtime/default", "unconfined", "localhost/my-profile"]) assert.deepEqual(errors(pod(app(), annotated(v))), [], v);
  assert.deepEqual(errors(pod(app("      securityContext:\n        appArmorProfile: {type: RuntimeDefault}\n"))), []);
  assert.deepEqual(errors(pod(app() + "  securityContext:\n    appArmorProfile: {type: Localhost, localhostProfile: p}\n")), []);
  assert.deepEqual(errors(pod(app(), annotated("runtime/default", "nope"))), ['6:5: metadata.annotations[container.apparmor.security.beta.kubernetes.io/nope]: Invalid value: "nope": container not found']);
  assert.deepEqual(errors(pod(app(), annotated("docker-default"))), [
    '6:57: metadata.annotations[container.apparmor.security.beta.kubernetes.io/app]: Invalid value: "docker-default": invalid AppArmor profile name: "docker-default"',
  ]);
  // An annotation and a field that disagree, the container's field or else the pod's.
  assert.deepEqual(errors(pod(app("      securityContext:\n        appArmorProfile: {type: Unconfined}\n"), annotated("runtime/default"))), [
    "6:57: spec.containers[0].securityContext.appArmorProfile.type: Forbidden: apparmor type in annotation and field must match",
  ]);
  assert.deepEqual(errors(pod(app() + "  securityContext:\n    appArmorProfile: {type: Localhost, localhostProfile: p}\n", annotated("localhost/q"))), [
    "6:57: spec.containers[0].securityContext.appArmorProfile.localhostProfile: Forbidden: apparmor profile in annotation and field must match",
  ]);
  assert.deepEqual(errors(pod(app("      securityContext:\n        appArmorProfile: {type: Localhost, localhostProfile: p}\n"), annotated("localhost/p"))), []);
  // Names as the kernel has them (a path is one), not padded, not empty, at most PATH_MAX - 1 bytes.
  assert.deepEqual(errors(pod(app("      securityContext:\n        appArmorProfile: {type: Localhost, localhostProfile: /usr/bin/x}\n"))), []);
  assert.deepEqual(errors(pod(app("      securityContext:\n        appArmorProfile: {type: Localhost, localhostProfile: \" p\"}\n"))), [
    '10:62: spec.containers[0].securityContext.appArmorProfile.localhostProfile: Invalid value: " p": must not be padded with whitespace',
  ]);
  assert.deepEqual(errors(pod(app(`      securityContext:\n        appArmorProfile: {type: Localhost, localhostProfile: ${"x".repeat(4096)}}\n`))), [
    "10:62: spec.containers[0].securityContext.appArmorProfile.localhostProfile: Too long: may not be more than 4095 bytes",
  ]);
  assert.deepEqual(errors(pod(app(), annotated("localhost/"))), ['6:57: metadata.annotations[container.apparmor.security.beta.kubernetes.io/app]: Invalid value: "localhost/": a profile name is required after localhost/']);
  const r = loadManifests(pod(app(), "  name: p\n  annotations:\n    seccomp.security.alpha.kubernetes.io/pod: runtime/default\n"), "pod.yaml");
  assert.deepEqual(r.errors, []);
  assert.equal(r.pods.length, 1);
  assert.deepEqual(r.warnings.map(formatDiagnostic), [
    "pod.yaml:6:5: metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]: ignored: the seccomp annotations have no effect since Kubernetes v1.27 and none in podd; use securityContext.seccompProfile",
  ]);
});

test("the pod's groups and sysctls are carried out; its SELinux and Windows settings are still refused by name", () => {
  const carried = pod(app() + `  securityContext:
    runAsUser: 1000
    fsGroup: 2000
    fsGroupChangePolicy: OnRootMismatch
    supplementalGroups: [4000, 5000]
    supplementalGroupsPolicy: Strict
    sysctls:
      - {name: kernel.shm_rmid_forced, value: "1"}
      - {name: net.core.somaxconn, value: "1024"}
`);
  const r = loadManifests(carried, "pod.yaml");
  assert.deepEqual(r.errors.map(formatDiagnostic), []);
  assert.deepEqual(r.pods[0]!.spec.securityContext, {
    runAsUser: 1000,
    fsGroup: 2000,
    fsGroupChangePolicy: "OnRootMismatch",
    supplementalGroups: [4000, 5000],
    supplementalGroupsPolicy: "Strict",
    sysctls: [{ name: "kernel.shm_rmid_forced", value: "1" }, { name: "net.core.somaxconn", value: "1024" }],
  });
  const selinux = "not supported yet by podd; podd applies no SELinux labels yet; remove it";
  assert.deepEqual(
    errors(pod(app() + "  securityContext:\n    fsGroup: 2000\n    seLinuxOptions: {level: 's0:c1'}\n    seLinuxChangePolicy: Recursive\n    windowsOptions: {runAsUserName: x}\n")),
    [
      `11:5: spec.securityContext.seLinuxOptions: ${selinux}`,
      `12:5: spec.securityContext.seLinuxChangePolicy: ${selinux}`,
      "13:5: spec.securityContext.windowsOptions: not supported yet by podd; podd runs Linux containers only; remove it",
    ],
  );
});

test("rules the API server does not have are not podd's either", () => {
  // hostname with hostNetwork is valid; the pod then has the host's hostname, as on a node.
  assert.deepEqual(errors(pod(app() + "  hostNetwork: true\n  hostname: web\n")), []);
  // Any printable ASCII but "=" makes an environment variable name (RelaxedEnvironmentVariableValidation).
  assert.deepEqual(errors(pod(app("      env: [{name: 1ST_VALUE, value: a}, {name: \"my var:x\", value: b}]\n"))), []);
  // A zero probe timing means "not set" and is defaulted, as in the API server.
  const p = applyDefaults({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p" },
    spec: { containers: [{ name: "c", image: "i", readinessProbe: { exec: { command: ["true"] }, timeoutSeconds: 0, periodSeconds: 0, successThreshold: 0, failureThreshold: 0 } }] },
  } as Pod);
  const probe = p.spec.containers[0]!.readinessProbe!;
  assert.deepEqual([probe.timeoutSeconds, probe.periodSeconds, probe.successThreshold, probe.failureThreshold], [1, 10, 1, 3]);
});

test("a ConfigMap next to a Pod is read with it; a Service is refused by name, saying what to do", () => {
  const text = `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: b}\n---\n${pod(app())}`;
  const r = loadManifests(text, "m.yaml");
  assert.deepEqual([r.errors, r.objects.map((o) => `${o.kind}/${o.metadata.name}`), r.pods.length], [[], ["ConfigMap/cfg"], 1]);
  assert.deepEqual(errors(`${text}---\napiVersion: v1\nkind: Service\nmetadata: {name: svc}\n`), [
    "16:7: kind: kind Service is not supported yet by podd; podd runs Pods with their Namespaces, ConfigMaps, Secrets and PersistentVolumeClaims; remove it from the file",
  ]);
});
