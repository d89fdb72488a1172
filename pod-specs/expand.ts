// $(VAR) expansion in command, args and env values, with the rules of the kubelet
// (k8s.io/kubernetes/third_party/forked/golang/expansion):
//   $(NAME)  is replaced by the value of NAME when the mapping knows it, and kept as written
//            otherwise, so a typo stays visible in the container instead of turning into "";
//   $$       is an escaped "$";
//   $(       without a closing ")" is kept as written;
//   $x       (any other character after "$") is kept as written, and so is a "$" at the end.
// The name is everything up to the first ")", whatever it contains, exactly as the kubelet reads it.

export type Mapping = (name: string) => string | undefined;

export function expand(input: string, mapping: Mapping): string {
  let out = "";
  let i = 0;
  while (i < input.length) {
    const dollar = input.indexOf("$", i);
    // A "$" that is the last character can start nothing.
    if (dollar < 0 || dollar === input.length - 1) {
      out += input.slice(i);
      break;
    }
    out += input.slice(i, dollar);
    const next = input[dollar + 1];
    if (next === "$") {
      out += "$";
      i = dollar + 2;
    } else if (next === "(") {
      const close = input.indexOf(")", dollar + 2);
      if (close < 0) {
        // Unterminated reference: keep "$(" and go on scanning after it, as the kubelet does.
        out += "$(";
        i = dollar + 2;
      } else {
        const name = input.slice(dollar + 2, close);
        out += mapping(name) ?? `$(${name})`;
        i = close + 1;
      }
    } else {
      out += "$";
      i = dollar + 1;
    }
  }
  return out;
}

/** A mapping that looks names up in the given maps, first match wins. */
export function mappingOf(...maps: ReadonlyArray<ReadonlyMap<string, string> | Mapping | undefined>): Mapping {
  return (name) => {
    for (const m of maps) {
      if (m === undefined) continue;
      const v = typeof m === "function" ? m(name) : m.get(name);
      if (v !== undefined) return v;
    }
    return undefined;
  };
}
