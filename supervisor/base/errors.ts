// One error type for the whole supervisor: a code a program can switch on, the errno and
// syscall when the kernel said no, the path or object it was about, and the cause chain.
// Messages are lower-case and name the object: "mount /run/podd/pods/x/ns/net: EPERM".

export type ErrorCode =
  | "Invalid" // bad input from a user: a manifest, a flag, a name
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Forbidden" // allowed to no one: deleting the default namespace, writing into one being deleted
  | "Syscall" // the kernel refused; errno and syscall are set
  | "Internal";

export interface PoddErrorInit {
  code?: ErrorCode;
  errno?: string;
  syscall?: string;
  path?: string;
  cause?: unknown;
}

export class PoddError extends Error {
  readonly code: ErrorCode;
  readonly errno: string | undefined;
  readonly syscall: string | undefined;
  readonly path: string | undefined;

  constructor(message: string, init: PoddErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "PoddError";
    this.code = init.code ?? (init.errno ? "Syscall" : "Internal");
    this.errno = init.errno;
    this.syscall = init.syscall;
    this.path = init.path;
  }

  /** A failed system call: "mount /run/podd/x: EPERM (operation not permitted)". */
  static syscall(syscall: string, path: string | undefined, errno: string, detail?: string): PoddError {
    const where = path === undefined ? syscall : `${syscall} ${path}`;
    return new PoddError(`${where}: ${errno}${detail ? ` (${detail})` : ""}`, { code: "Syscall", errno, syscall, path });
  }

  /** Wraps any error with context, keeping errno/syscall/path of a Node system error. */
  static wrap(context: string, err: unknown, code?: ErrorCode): PoddError {
    const e = err as NodeJS.ErrnoException | undefined;
    const msg = e instanceof Error ? e.message : String(err);
    return new PoddError(`${context}: ${msg}`, {
      code: code ?? (err instanceof PoddError ? err.code : e?.code ? "Syscall" : "Internal"),
      errno: err instanceof PoddError ? err.errno : e?.code,
      syscall: err instanceof PoddError ? err.syscall : e?.syscall,
      path: err instanceof PoddError ? err.path : e?.path,
      cause: err,
    });
  }
}

/** True when err is a Node or podd error carrying the given errno (e.g. "ENOENT"). */
export function hasErrno(err: unknown, errno: string): boolean {
  if (err instanceof PoddError) return err.errno === errno;
  return (err as NodeJS.ErrnoException | undefined)?.code === errno;
}

/**
 * kube-apiserver's answer to an object that does not validate: 422, `Kind "name" is invalid:
 * field: problem` (several in brackets), and each problem a cause with its field.
 */
export function invalidObject(kind: string, name: string | undefined, problems: readonly { path: string; message: string }[]): PoddError {
  // Named as kube-apiserver names it; a failed check of the name shows the name as sent.
  const what = name ? `${kind} "${name}"` : kind;
  const listed = problems.map((p) => `${p.path}: ${p.message}`);
  const message = `${what} is invalid: ${listed.length === 1 ? listed[0] : `[${listed.join(", ")}]`}`;
  return Object.assign(new PoddError(message, { code: "Invalid" }), { causes: problems.map((p) => ({ field: p.path, message: p.message })) });
}

/**
 * metadata.name of a request body that did not validate, when it is JSON (as API clients send)
 * and small: a large refused body is not parsed again only to name it.
 */
export function sentName(body: string): string | undefined {
  if (body.length > 256 * 1024) return undefined;
  try {
    const name = (JSON.parse(body) as { metadata?: { name?: unknown } } | null)?.metadata?.name;
    return typeof name === "string" ? name : undefined;
  } catch {
    return undefined;
  }
}
