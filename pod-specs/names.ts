// Name and value checks with Kubernetes' own rules and wording
// (k8s.io/apimachinery/pkg/util/validation), so a message here reads like the one the API
// server would print. Each returns the list of problems, empty when the value is fine.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
// In current Kubernetes (RelaxedEnvironmentVariableValidation, on by default since v1.32) any
// printable ASCII character but "=" may be in a variable name; execve takes them all.
const ENV_VAR_NAME = /^[\x20-\x3c\x3e-\x7e]+$/;
const CONFIG_MAP_KEY = /^[-._a-zA-Z0-9]+$/;
const STRICT_ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const IANA_SVC_NAME_CHARS = /^[-a-z0-9]+$/;
const HAS_LETTER = /[a-z]/;

export const DNS1123_LABEL_MAX = 63;
export const DNS1123_SUBDOMAIN_MAX = 253;

export const DNS1123_LABEL_MESSAGE =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
export const DNS1123_SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const QUALIFIED_NAME_MESSAGE =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_MESSAGE =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
export const ENV_VAR_NAME_MESSAGE = "a valid environment variable name must consist only of printable ASCII characters other than '='";

export function maxLenError(n: number): string {
  return `must be no more than ${n} characters`;
}

export function isDns1123Label(value: string): string[] {
  const errs: string[] = [];
  if (value.length > DNS1123_LABEL_MAX) errs.push(maxLenError(DNS1123_LABEL_MAX));
  if (!DNS1123_LABEL.test(value)) errs.push(DNS1123_LABEL_MESSAGE);
  return errs;
}

export function isDns1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (value.length > DNS1123_SUBDOMAIN_MAX) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX));
  if (!DNS1123_SUBDOMAIN.test(value)) errs.push(DNS1123_SUBDOMAIN_MESSAGE);
  return errs;
}

/** Label and annotation keys: an optional DNS subdomain prefix, "/", and a name of ≤ 63 characters. */
export function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split("/");
  let name: string;
  if (parts.length === 1) {
    name = parts[0]!;
  } else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) errs.push("prefix part must be non-empty");
    else errs.push(...isDns1123Subdomain(prefix).map((e) => `prefix part ${e}`));
  } else {
    return [`${QUALIFIED_NAME_MESSAGE.replace("name part must", "a qualified name must")} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  }
  if (name.length === 0) errs.push("name part must be non-empty");
  else if (name.length > DNS1123_LABEL_MAX) errs.push(`name part ${maxLenError(DNS1123_LABEL_MAX)}`);
  if (name.length > 0 && !QUALIFIED_NAME_PART.test(name)) errs.push(QUALIFIED_NAME_MESSAGE);
  return errs;
}

/**
 * A qualified name without a prefix, such as most annotation keys: isQualifiedName finds
 * nothing wrong with it, in either case. False says nothing: ask isQualifiedName.
 */
export function isPlainQualifiedName(value: string): boolean {
  return value.length > 0 && value.length <= DNS1123_LABEL_MAX && value.indexOf("/") < 0 && QUALIFIED_NAME_PART.test(value);
}

export function isLabelValue(value: string): string[] {
  const errs: string[] = [];
  if (value.length > DNS1123_LABEL_MAX) errs.push(maxLenError(DNS1123_LABEL_MAX));
  if (!LABEL_VALUE.test(value)) errs.push(LABEL_VALUE_MESSAGE);
  return errs;
}

/** A "." or ".." key would name the volume's own directory or its parent when the object is
 * mounted: apimachinery refuses those on every key kind that becomes a file name. */
function chDirPrefixErrors(value: string): string[] {
  if (value === ".") return ["must not be '.'"];
  if (value === "..") return ["must not be '..'"];
  if (value.startsWith("..")) return ["must not start with '..'"];
  return [];
}

export const CONFIG_MAP_KEY_MESSAGE =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

/** ConfigMap and Secret data keys (IsConfigMapKey): ≤ 253 characters of [-._a-zA-Z0-9]. */
export function isConfigMapKey(value: string): string[] {
  const errs: string[] = [];
  if (value.length > DNS1123_SUBDOMAIN_MAX) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX));
  if (!CONFIG_MAP_KEY.test(value)) errs.push(CONFIG_MAP_KEY_MESSAGE);
  errs.push(...chDirPrefixErrors(value));
  return errs;
}

export const STRICT_ENV_VAR_NAME_MESSAGE =
  "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";

/**
 * The strict environment variable name rule (apimachinery IsEnvVarName). Pods accept the
 * relaxed rule now (isEnvVarName below), but kubectl still checks --from-env-file keys with
 * this one, so `podd create … --from-env-file` refuses what kubectl refuses.
 */
export function isStrictEnvVarName(value: string): string[] {
  const errs = STRICT_ENV_VAR_NAME.test(value) ? [] : [STRICT_ENV_VAR_NAME_MESSAGE];
  errs.push(...chDirPrefixErrors(value));
  return errs;
}

export function isEnvVarName(value: string): string[] {
  return ENV_VAR_NAME.test(value) ? [] : [ENV_VAR_NAME_MESSAGE];
}

/** Port names (IANA service names): ≤ 15 characters, lower case, at least one letter, no "--". */
export function isPortName(value: string): string[] {
  const errs: string[] = [];
  if (value.length > 15) errs.push(maxLenError(15));
  if (!IANA_SVC_NAME_CHARS.test(value)) errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  if (value.includes("--")) errs.push("must not contain consecutive hyphens");
  if (value.length > 0 && !HAS_LETTER.test(value)) errs.push("must contain at least one letter (a-z)");
  if (value.startsWith("-") || value.endsWith("-")) errs.push("must not begin or end with a hyphen");
  return errs;
}

export function isValidPort(n: number): string[] {
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? [] : ["must be between 1 and 65535, inclusive"];
}

export function isIP(value: string): boolean {
  const v4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;
  if (v4.test(value)) return true;
  // IPv6: at most one "::", hex groups of 1–4 digits, optionally ending in an IPv4 address.
  if (!/^[0-9a-fA-F:.]+$/.test(value) || value.split("::").length > 2) return false;
  if ((value.startsWith(":") && !value.startsWith("::")) || (value.endsWith(":") && !value.endsWith("::"))) return false;
  let groups = value.split(":").filter((g) => g !== "");
  const tail = groups[groups.length - 1];
  let extra = 0;
  if (tail !== undefined && tail.includes(".")) {
    if (!v4.test(tail)) return false;
    groups = groups.slice(0, -1);
    extra = 2;
  }
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  const count = groups.length + extra;
  return value.includes("::") ? count < 8 : count === 8;
}
