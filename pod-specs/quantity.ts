// Kubernetes resource quantities ("500m", "1.5Gi", "1e3"), parsed exactly.
//
// A quantity is kept as an exact fraction num/den with den a power of ten, in BigInt, so that
// "0.1" CPU is exactly 100m and "1.5Gi" exactly 1610612736 bytes; floating point would drift
// and a cgroup limit one byte off is a different limit. The grammar, the suffixes, the error
// texts and the rounding (Value and MilliValue round away from zero) follow
// k8s.io/apimachinery/pkg/api/resource, so a manifest means here what it means to kubectl.

export type QuantityFormat = "DecimalSI" | "BinarySI" | "DecimalExponent";

export interface Quantity {
  /** numerator, sign included */
  readonly num: bigint;
  /** denominator, a positive power of ten */
  readonly den: bigint;
  /** the suffix family it was written in; canonical strings keep it */
  readonly format: QuantityFormat;
}

/** Kubernetes' own texts for the two ways a quantity can be malformed. */
export const QUANTITY_FORMAT_ERROR =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
export const QUANTITY_SUFFIX_ERROR = "unable to parse quantity's suffix";

export type ParseQuantityResult = { ok: true; quantity: Quantity } | { ok: false; error: string };

// Same shape as the apimachinery scanner: sign, digits, optional fraction, then a suffix made of
// suffix letters followed by an optional signed integer (which only "e"/"E" may use).
const GRAMMAR = /^([+-]?)([0-9]*)(?:\.([0-9]*))?([eEinumkKMGTP]*[-+]?[0-9]*)$/;

const DECIMAL_SUFFIXES: Record<string, number> = { n: -9, u: -6, m: -3, "": 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_SUFFIXES: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

// Exponents beyond this only make BigInt arithmetic slow; no real resource comes near 1e100.
const MAX_DECIMAL_EXPONENT = 100;

function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

export function parseQuantity(text: string): ParseQuantityResult {
  const m = GRAMMAR.exec(text);
  if (!m) return { ok: false, error: QUANTITY_FORMAT_ERROR };
  const [, sign = "", whole = "", frac = "", suffix = ""] = m;
  // The apimachinery scanner silently reads "Mi" or "." as zero; a number with no digit is
  // always a typo, so it is rejected with the format message.
  if (whole.length === 0 && frac.length === 0) return { ok: false, error: QUANTITY_FORMAT_ERROR };

  let format: QuantityFormat;
  let exp10 = 0;
  let exp2 = 0;
  if (suffix in DECIMAL_SUFFIXES) {
    format = "DecimalSI";
    exp10 = DECIMAL_SUFFIXES[suffix]!;
  } else if (suffix in BINARY_SUFFIXES) {
    format = "BinarySI";
    exp2 = BINARY_SUFFIXES[suffix]!;
  } else if (/^[eE][+-]?[0-9]+$/.test(suffix)) {
    format = "DecimalExponent";
    exp10 = Number(suffix.slice(1));
    if (Math.abs(exp10) > MAX_DECIMAL_EXPONENT) return { ok: false, error: QUANTITY_SUFFIX_ERROR };
  } else {
    return { ok: false, error: QUANTITY_SUFFIX_ERROR };
  }

  let num = BigInt((whole || "0") + frac);
  let den = pow10(frac.length);
  if (exp10 >= 0) num *= pow10(exp10);
  else den *= pow10(-exp10);
  num <<= BigInt(exp2);
  if (sign === "-") num = -num;
  return { ok: true, quantity: reduce({ num, den, format }) };
}

/** Parses a quantity that is known to be valid (it passed validation); throws otherwise. */
export function mustParseQuantity(text: string): Quantity {
  const r = parseQuantity(text);
  if (!r.ok) throw new Error(`quantity ${JSON.stringify(text)}: ${r.error}`);
  return r.quantity;
}

// Keeps den as small as possible so that comparisons and formatting work on small numbers.
function reduce(q: Quantity): Quantity {
  let { num, den } = q;
  while (den > 1n && num % 10n === 0n) {
    num /= 10n;
    den /= 10n;
  }
  return { num, den, format: q.format };
}

// Division rounding away from zero, as Quantity.Value and MilliValue do.
function divAwayFromZero(num: bigint, den: bigint): bigint {
  const q = num / den;
  if (q * den === num) return q;
  return num < 0n ? q - 1n : q + 1n;
}

/** The value as an integer, rounded away from zero (Kubernetes `Value()`): bytes for memory. */
export function quantityValue(q: Quantity): bigint {
  return divAwayFromZero(q.num, q.den);
}

/** The value in thousandths, rounded away from zero (Kubernetes `MilliValue()`): milliCPU. */
export function quantityMilliValue(q: Quantity): bigint {
  return divAwayFromZero(q.num * 1000n, q.den);
}

/** -1, 0 or 1 as a is less than, equal to or greater than b. */
export function compareQuantities(a: Quantity, b: Quantity): number {
  const l = a.num * b.den;
  const r = b.num * a.den;
  return l < r ? -1 : l > r ? 1 : 0;
}

export function isNegative(q: Quantity): boolean {
  return q.num < 0n;
}

const DECIMAL_BY_EXPONENT: Record<number, string> = { [-9]: "n", [-6]: "u", [-3]: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E" };
const BINARY_BY_POWER = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/**
 * The canonical text the API server stores and `kubectl get -o json` prints: "0.5" becomes
 * "500m", "1024Mi" becomes "1Gi", "1000" becomes "1k". Values finer than 1n are rounded up to 1n,
 * as Kubernetes does; a binary quantity that is not a whole number (or below 1024) is written in
 * decimal so that nothing is lost.
 */
export function formatQuantity(q: Quantity): string {
  let format = q.format;
  if (format === "BinarySI") {
    const abs = q.num < 0n ? -q.num : q.num;
    if (abs < 1024n * q.den || q.num % q.den !== 0n) format = "DecimalSI";
  }
  if (format === "BinarySI") {
    let mantissa = q.num / q.den;
    let power = 0;
    while (power < BINARY_BY_POWER.length - 1 && mantissa !== 0n && mantissa % 1024n === 0n) {
      mantissa /= 1024n;
      power++;
    }
    return `${mantissa}${BINARY_BY_POWER[power]}`;
  }
  // Integer mantissa at nano scale, rounded away from zero.
  let mantissa = divAwayFromZero(q.num * 1_000_000_000n, q.den);
  if (mantissa === 0n) return "0";
  let exponent = -9;
  while (mantissa % 10n === 0n) {
    mantissa /= 10n;
    exponent++;
  }
  // Suffixes come in steps of three; give digits back to the mantissa until one fits.
  while (((exponent % 3) + 3) % 3 !== 0) {
    mantissa *= 10n;
    exponent--;
  }
  if (format === "DecimalExponent") return exponent === 0 ? `${mantissa}` : `${mantissa}e${exponent}`;
  while (exponent > 18) {
    mantissa *= 1000n;
    exponent -= 3;
  }
  return `${mantissa}${DECIMAL_BY_EXPONENT[exponent]}`;
}

/** Parses and formats in one step; for texts already known to be valid. */
export function canonicalQuantity(text: string): string {
  return formatQuantity(mustParseQuantity(text));
}
