// podd exec: runs a command in a running container. The daemon names the container's PID 1
// (exec-target); podd-init exec joins its namespaces and cgroups and runs the command with this
// process's stdio, or with -it on a terminal on a pty of the container's own that podd-init
// relays this terminal to; the command's exit code becomes podd's.
import { spawn } from "node:child_process";
import { isatty } from "node:tty";
import { execIdentityArgs, execSecurity } from "../../pod-specs/security.ts";
import { PoddError } from "../base/errors.ts";
import { initPath } from "./lib/supervisor-flags.ts";
import { clientFor, defaultContainer, namespaceFlags, namespaceOf, podNames, processIo, runClientVerb, socketFlag, type Io } from "./lib/client-verb.ts";
import { parseFlags, type Verb } from "./lib/verb.ts";

export interface ExecDeps {
  /** runs podd-init; resolves to its exit code (the command's) */
  run(path: string, args: string[], stdin: boolean): Promise<number>;
  /** whether stdin is a terminal (node:tty's isatty(0): process.stdin would open a stream on it) */
  stdinIsTerminal(): boolean;
}

export const spawnInit: ExecDeps = {
  run(path, args, stdin) {
    return new Promise((resolve, reject) => {
      const child = spawn(path, args, { stdio: [stdin ? "inherit" : "ignore", "inherit", "inherit"] });
      // While the command runs, Ctrl-C belongs to it (a terminal sends it to the whole
      // foreground group); podd waits for its exit status instead of dying first.
      const ignore = (): void => {};
      process.on("SIGINT", ignore);
      child.on("error", (err) => {
        process.off("SIGINT", ignore);
        reject(PoddError.wrap(`run ${path}`, err));
      });
      child.on("exit", (code, sig) => {
        process.off("SIGINT", ignore);
        resolve(code ?? 128 + (sig ? ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[sig] ?? 0 : 0));
      });
    });
  },
  stdinIsTerminal: () => isatty(0),
};

export async function execMain(argv: string[], io: Io, deps: ExecDeps = spawnInit): Promise<number> {
  const dash = argv.indexOf("--");
  if (dash < 0) throw new PoddError("give the command after --: podd exec POD [-c CONTAINER] [-it] -- CMD [ARG…]", { code: "Invalid" });
  const command = argv.slice(dash + 1);
  const { values, positionals } = parseFlags(argv.slice(0, dash), {
    ...socketFlag,
    namespace: namespaceFlags.namespace,
    container: { type: "string", short: "c" },
    stdin: { type: "boolean", short: "i" },
    tty: { type: "boolean", short: "t" },
  });
  const name = podNames(positionals, "exec")[0];
  if (name === undefined || positionals.length > 1) throw new PoddError("expected one POD: podd exec POD [-c CONTAINER] [-it] -- CMD [ARG…]", { code: "Invalid" });
  if (command.length === 0) throw new PoddError("you must specify at least one command for the container", { code: "Invalid" });
  // As kubectl: a terminal only for -it on a terminal; otherwise say so and go on without one.
  const tty = values.tty === true && values.stdin === true && deps.stdinIsTerminal();
  if (values.tty && !tty) io.stderr.write("Unable to use a TTY - input is not a terminal or the right kind of file\n");
  const namespace = namespaceOf(values);
  const client = clientFor(values, io);
  return runClientVerb(io, async () => {
    const pod = await client.getPod(namespace, name);
    let container = values.container;
    if (container === undefined) {
      const picked = defaultContainer(pod);
      if (picked.note) io.stderr.write(picked.note + "\n");
      container = picked.name;
    }
    const target = await client.execTarget(namespace, name, container);
    const spec = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((c) => c.name === target.container);
    const args = ["exec", "--pid", String(target.pid1)];
    if (spec?.workingDir) args.push("--cwd", spec.workingDir);
    // The command runs as the container's processes do (user, groups, no_new_privs), as the
    // container runtime's exec does; the groups as its status says they were started with.
    const started = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.initContainerStatuses ?? [])].find((s) => s.name === target.container)?.user?.linux;
    args.push(...execIdentityArgs(execSecurity(pod, spec ?? {}, started)));
    // podd-init opens the pty inside the container and relays this terminal to it.
    if (tty) args.push("--tty");
    args.push("--", ...command);
    return deps.run(initPath(), args, values.stdin === true);
  });
}

export const exec: Verb = {
  summary: "Run a command in a running container (kubectl exec)",
  usage: "POD [-c CONTAINER] [-i] [-t] [-n NS] [--socket PATH] -- CMD [ARG…]",
  run: (argv) => execMain(argv, processIo()),
};
