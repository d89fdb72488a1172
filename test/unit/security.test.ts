// How a container's securityContext becomes its capabilities, seccomp profile and podd-init
// options, and what validation refuses, with the API server's wording where it has one.
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDiagnostic, loadManifests } from "../../pod-specs/index.ts";
import {
  appArmorProfileName,
  capabilityMask,
  containerAppArmor,
  containerCapabilities,
  containerSeccomp,
  DEFAULT_CAPABILITIES,
  execIdentityArgs,
  needsAppArmor,
  processSecurity,
} from "../../pod-specs/security.ts";
import type { Container, Pod } from "../../pod-specs/types.ts";

const pod = (sc: Pod["spec"]["securityContext"] = {}): Pick<Pod, "spec"> => ({ spec: { containers: [], securityContext: sc } });
const caps = (securityContext: Container["securityContext"]) => containerCapabilities({ securityContext });

test("the default set is the CRI's, as /proc shows it (CapBnd a80425fb)", () => {
  assert.equal(capabilityMask(caps(undefined)).toString(16), "a80425fb");
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
});

test("add and drop, ALL on either side, names with or without CAP_ in any case", () => {
  assert.deepEqual(caps({ capabilities: { drop: ["ALL"] } }), []);
  assert.deepEqual(caps({ capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] } }), ["NET_BIND_SERVICE"]);
  assert.ok(caps({ capabilities: { add: ["cap_sys_time"] } }).includes("SYS_TIME"));
  assert.ok(!caps({ capabilities: { drop: ["NET_RAW", "CAP_MKNOD"] } }).some((c) => c === "NET_RAW" || c === "MKNOD"));
  assert.equal(caps({ capabilities: { add: ["ALL"], drop: ["SYS_ADMIN"] } }).length, 40);
  assert.equal(caps({ privileged: true, capabilities: { drop: ["ALL"] } }).length, 41, "privileged has everything");
});

test("seccomp: the container's profile, else the pod's, else RuntimeDefault; privileged is never filtered", () => {
  assert.deepEqual(containerSeccomp(pod(), {}), { type: "RuntimeDefault" });
  assert.deepEqual(containerSeccomp(pod({ seccompProfile: { type: "Unconfined" } }), {}), { type: "Unconfined" });
  assert.deepEqual(
    containerSeccomp(pod({ seccompProfile: { type: "Unconfined" } }), { securityContext: { seccompProfile: { type: "Localhost", localhostProfile: "a.json" } } }),
    { type: "Localhost", localhostProfile: "a.json" },
  );
  assert.deepEqual(containerSeccomp(pod(), { securityContext: { privileged: true } }), { type: "Unconfined" });
});

test("podd-init options: --caps unless privileged, --seccomp when a filter was compiled", () => {
  const s = processSecurity(pod({ runAsUser: 1000, runAsGroup: 1000 }), { securityContext: { allowPrivilegeEscalation: false } });
  assert.deepEqual(execIdentityArgs(s, "/run/x/seccomp.bpf"), ["--uid", "1000", "--gid", "1000", "--no-new-privs", "--groups", "1000", "--caps", "a80425fb", "--seccomp", "/run/x/seccomp.bpf"]);
  assert.deepEqual(execIdentityArgs(processSecurity(pod(), { securityContext: { privileged: true } })), ["--uid", "0", "--gid", "0", "--groups", "0"]);
});

function errors(securityContext: string, podLevel = ""): string[] {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  ${podLevel ? `securityContext: ${podLevel}` : ""}
  containers:
  - name: c
    image: busybox
    securityContext: ${securityContext}
`;
  return loadManifests(text, "p.yaml").errors.map(formatDiagnostic);
}

test("validation: unknown capabilities, SYS_ADMIN without privilege escalation, seccomp fields", () => {
  assert.deepEqual(errors("{capabilities: {add: [NET_ADMIN, CAP_SYS_TIME, all]}}"), []);
  assert.deepEqual(errors("{capabilities: {add: [NET_ADMINN]}}"), [
    'p.yaml:9:44: spec.containers[0].securityContext.capabilities.add[0]: Invalid value: "NET_ADMINN": not a Linux capability (see capabilities(7); write NET_ADMIN for CAP_NET_ADMIN, or ALL)',
  ]);
  assert.deepEqual(errors("{allowPrivilegeEscalation: false, capabilities: {add: [SYS_ADMIN]}}"), [
    "p.yaml:9:49: spec.containers[0].securityContext.allowPrivilegeEscalation: Invalid value: false: cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN",
  ]);
  assert.deepEqual(errors("{seccompProfile: {type: Localhost}}"), [
    "p.yaml:9:39: spec.containers[0].securityContext.seccompProfile.localhostProfile: Required value: must be set when seccomp type is Localhost",
  ]);
  assert.deepEqual(errors("{seccompProfile: {type: Localhost, localhostProfile: ../x.json}}"), [
    `p.yaml:9:75: spec.containers[0].securityContext.seccompProfile.localhostProfile: Invalid value: "../x.json": must not contain '..'`,
  ]);
  assert.deepEqual(errors("{}", "{seccompProfile: {type: RuntimeDefault, localhostProfile: x.json}}"), [
    `p.yaml:5:78: spec.securityContext.seccompProfile.localhostProfile: Invalid value: "x.json": can only be set when seccomp type is Localhost`,
  ]);
  assert.deepEqual(errors("{seccompProfile: {type: Strict}}"), [
    'p.yaml:9:46: spec.containers[0].securityContext.seccompProfile.type: Unsupported value: "Strict": supported values: "Localhost", "RuntimeDefault", "Unconfined"',
  ]);
  assert.equal(errors("{procMount: Unmasked}").length, 1);
  assert.deepEqual(errors("{appArmorProfile: {type: Unconfined}}"), []);
  assert.deepEqual(errors("{appArmorProfile: {type: Unconfined, localhostProfile: p}}"), [
    'p.yaml:9:77: spec.containers[0].securityContext.appArmorProfile.localhostProfile: Invalid value: "p": can only be set when AppArmor type is Localhost',
  ]);
  assert.deepEqual(errors("{procMount: Default, privileged: true}"), []);
});

test("a NUL in a command, an argument, a variable or the working directory is refused: it could never reach the process", () => {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - {name: c, image: busybox, command: ["sh", "-c", "echo a\\u0000b"], env: [{name: X, value: "\\u0000"}]}
`;
  assert.deepEqual(
    loadManifests(text, "p.yaml").errors.map((e) => `${e.path}: ${e.message}`),
    [
      'spec.containers[0].command[2]: Invalid value: "echo a\\u0000b": must not contain a NUL character',
      'spec.containers[0].env[0].value: Invalid value: "\\u0000": must not contain a NUL character',
    ],
  );
});

test("AppArmor: the container's field, else its annotation, else the pod's; podd's default unless Unconfined, privileged or Localhost", () => {
  const p = (annotations: Record<string, string>, sc: Pod["spec"]["securityContext"] = {}): Pick<Pod, "metadata" | "spec"> => ({ metadata: { name: "p", annotations }, spec: { containers: [{ name: "c", image: "host" }], securityContext: sc } });
  const c = (securityContext: Container["securityContext"] = {}) => ({ name: "c", securityContext });
  assert.equal(containerAppArmor(p({}), c()), undefined);
  assert.equal(appArmorProfileName(p({}), c()), "podd-default", "the default, asked for or not, as containerd's");
  assert.equal(appArmorProfileName(p({}), c({ privileged: true })), undefined, "privileged: unconfined");
  assert.equal(appArmorProfileName(p({}, { appArmorProfile: { type: "Unconfined" } }), c()), undefined);
  assert.equal(appArmorProfileName(p({ "container.apparmor.security.beta.kubernetes.io/c": "localhost/ann" }, { appArmorProfile: { type: "Unconfined" } }), c()), "ann", "the annotation before the pod's field");
  assert.equal(appArmorProfileName(p({ "container.apparmor.security.beta.kubernetes.io/c": "unconfined" }), c({ appArmorProfile: { type: "Localhost", localhostProfile: "mine" } })), "mine", "the container's field first");
  assert.equal(appArmorProfileName(p({}), c({ privileged: true, appArmorProfile: { type: "Localhost", localhostProfile: "mine" } })), "mine", "a privileged container gets the profile it names");
  assert.equal(appArmorProfileName(p({ "container.apparmor.security.beta.kubernetes.io/other": "localhost/x" }), c()), "podd-default", "another container's annotation is not this one's");
  // What the kubelet refuses on a host without AppArmor: any profile but Unconfined, named anywhere.
  assert.equal(needsAppArmor(p({})), false);
  assert.equal(needsAppArmor(p({ "container.apparmor.security.beta.kubernetes.io/c": "unconfined" }, { appArmorProfile: { type: "Unconfined" } })), false);
  assert.equal(needsAppArmor(p({ "container.apparmor.security.beta.kubernetes.io/c": "runtime/default" })), true);
  assert.equal(needsAppArmor(p({}, { appArmorProfile: { type: "RuntimeDefault" } })), true);
  assert.equal(needsAppArmor({ metadata: { name: "p" }, spec: { containers: [{ ...c({ appArmorProfile: { type: "Localhost", localhostProfile: "x" } }), image: "host" }] } }), true);
  assert.deepEqual(execIdentityArgs(processSecurity({ spec: { containers: [] } }, {}), undefined, "podd-default").slice(-2), ["--apparmor", "podd-default"]);
});
