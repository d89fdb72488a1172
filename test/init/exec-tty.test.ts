// `podd-init exec --tty`: the command gets a pty of its own as stdin, stdout, stderr and
// controlling terminal, in a session of its own (so a shell has job control); the caller's
// terminal size is copied to it and the caller's terminal is left as it was; TERM only with a
// terminal; HOME from the container's /etc/passwd when its environment has none.
// util-linux's script(1) gives podd-init a terminal of its own to relay.
import { describe, test, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { FIXTURE, INIT, build, needsRoot, run, startContainer, withCleanup } from "./helpers.ts";
import { onTerminal as onTerminalWith } from "../terminal.ts";

const onTerminal = (script: string, env: NodeJS.ProcessEnv = process.env) => onTerminalWith(script, { env });

const quote = (args: string[]) => args.map((a) => `'${a}'`).join(" ");

describe("podd-init exec --tty", { skip: needsRoot }, () => {
  before(build);

  test("a terminal of its own: tty, size, job control, exit code; the caller's terminal restored", () =>
    withCleanup(async (c) => {
      const { HOME: _home, TERM: _term, ...noHome } = process.env;
      const ctr = startContainer(c, [FIXTURE, "sleep-forever"], [], { env: { ...noHome, TERM: "from-the-container" } });
      const start = await ctr.started();
      const exec = (...args: string[]) => quote([INIT, "exec", "--pid", String(start.pid1), ...args]);

      const tty = await onTerminal(`stty rows 41 cols 103; ${exec("--tty", "--", "sh", "-c", "tty; stty size; echo TERM=$TERM; exit 3")}`, { ...process.env, TERM: "vt220" });
      assert.equal(tty.status, 3, tty.out);
      assert.match(tty.out, /^\/dev\/pts\/\d+\n41 103\nTERM=vt220\n$/);

      // The command leads a session with the pty as its controlling terminal: a shell's job
      // control works (without one, sh says it cannot access the tty or set its process group).
      const jobs = await onTerminal(exec("--tty", "--", "sh", "-c", "set -m; sleep 0 & wait"));
      assert.equal(jobs.status, 0, jobs.out);
      assert.doesNotMatch(jobs.out, /can't access tty|tty process group/i);

      // Raw while the command runs (this container shares the host's /dev, so the command can
      // look at the caller's terminal), as it was before once podd-init has exited.
      const modes = await onTerminal(`T=$(tty); stty -g; ${exec("--tty", "--", "sh", "-c", "stty -g <$0")} "$T"; stty -g`);
      assert.equal(modes.status, 0, modes.out);
      const [before, during, after] = modes.out.trim().split("\n");
      assert.match(before!, /^[0-9a-f:]+$/);
      assert.notEqual(during, before);
      assert.equal(after, before);

      // The terminal belongs to the command's user, who can open it by its name.
      const user = await onTerminal(exec("--uid", "1000", "--gid", "1000", "--tty", "--", "sh", "-c", "echo by-name >$(tty)"));
      assert.equal(user.status, 0, user.out);
      assert.equal(user.out, "by-name\n");

      // A resize of the caller's terminal reaches the command's as SIGWINCH with the new size.
      // The fifo says the trap is set (the container shares the host's filesystem here); the
      // explicit stdin keeps the background job on the terminal rather than on /dev/null.
      const fifo = `${c.tmpdir()}/trap-set`;
      const winch = await onTerminal(
        `mkfifo ${fifo}; stty rows 10 cols 20; ` +
          `${exec("--tty", "--", "sh", "-c", `trap "stty size; exit 0" WINCH; echo >${fifo}; while :; do sleep 1; done`)} </dev/tty & ` +
          `read x <${fifo}; stty rows 11 cols 21; wait $!`,
      );
      assert.equal(winch.status, 0, winch.out);
      assert.equal(winch.out, "11 21\n");

      // Without --tty: the caller's stdio, and TERM is the container's own, not the caller's.
      const plain = spawnSync(INIT, ["exec", "--pid", String(start.pid1), "--", "sh", "-c", "tty; echo TERM=$TERM"], { encoding: "utf8", env: { ...process.env, TERM: "vt220" } });
      assert.equal(plain.stdout, "not a tty\nTERM=from-the-container\n");
    }));

  test("HOME from the container's /etc/passwd for the command's uid when its environment has none", () =>
    withCleanup(async (c) => {
      const { HOME: _home, ...noHome } = process.env;
      const ctr = startContainer(c, [FIXTURE, "sleep-forever"], [], { env: noHome });
      const start = await ctr.started();
      const home = (...ids: string[]) => run(INIT, ["exec", "--pid", String(start.pid1), ...ids, "--", "sh", "-c", "echo $HOME"]).stdout;
      // The container shares the host's root here: root's home is the host's /etc/passwd's.
      const rootHome = /^root:[^:]*:0:[^:]*:[^:]*:([^:]*):/m.exec(spawnSync("getent", ["passwd", "0"], { encoding: "utf8" }).stdout)![1];
      assert.equal(home(), `${rootHome}\n`);
      assert.equal(home("--uid", "4000123", "--gid", "4000123"), "/\n");

      const withHome = startContainer(c, [FIXTURE, "sleep-forever"], [], { env: { ...noHome, HOME: "/custom" } });
      const s2 = await withHome.started();
      assert.equal(run(INIT, ["exec", "--pid", String(s2.pid1), "--", "sh", "-c", "echo $HOME"]).stdout, "/custom\n");
    }));
});
