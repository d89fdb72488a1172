// htpasswd lines for a registry's Basic auth. The registry reads bcrypt entries only; the C
// library's crypt() (libxcrypt, on every glibc system) makes them, so no bcrypt package is needed.
import koffi from "koffi";

let lib: { crypt: (phrase: string, setting: string) => string | null; gensalt: (prefix: string, count: number, rbytes: null, n: number) => string | null } | undefined;

function libcrypt() {
  if (!lib) {
    const so = koffi.load("libcrypt.so.1");
    lib = {
      crypt: so.func("const char *crypt(const char *phrase, const char *setting)"),
      // A NULL rbytes makes libxcrypt draw the salt from the kernel's random source.
      gensalt: so.func("const char *crypt_gensalt(const char *prefix, unsigned long count, const char *rbytes, int nrbytes)"),
    };
  }
  return lib;
}

/** A bcrypt hash of password. Cost 4, the least bcrypt allows: a test needs no work factor. */
export function bcrypt(password: string): string {
  const { crypt, gensalt } = libcrypt();
  const salt = gensalt("$2b$", 4, null, 0);
  if (!salt?.startsWith("$2b$")) throw new Error("crypt_gensalt: libcrypt has no bcrypt ($2b$)");
  const hash = crypt(password, salt);
  if (!hash?.startsWith("$2b$")) throw new Error(`crypt: bcrypt failed (${hash ?? "NULL"})`);
  return hash;
}

/** One htpasswd line, user:bcrypt-hash. */
export function htpasswdLine(user: string, password: string): string {
  if (user.includes(":")) throw new Error(`htpasswd user ${JSON.stringify(user)}: a name cannot hold ':'`);
  return `${user}:${bcrypt(password)}\n`;
}
