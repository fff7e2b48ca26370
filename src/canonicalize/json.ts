/** Small JSON helpers for canonical forms: key order, line endings, copies only where something changes. */

export type Json = Record<string, unknown>;

export function isObj(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Keys in canonical order: UTF-16 code unit order, as RFC 8785 (JCS) sorts them. */
export function sortedKeys(o: Json): string[] {
  const keys = Object.keys(o);
  // An insertion sort with `<` on strings (the order Array#sort's default gives): objects have a few keys,
  // often already in order, and this costs a third less than calling sort() (measured).
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i] as string;
    if ((keys[i - 1] as string) <= k) continue;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > k) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

/** True when every object inside v already lists its keys in canonical order. */
export function keysSorted(v: unknown): boolean {
  if (Array.isArray(v)) return v.every(keysSorted);
  if (!isObj(v)) return true;
  let prev: string | undefined;
  for (const k in v) {
    if (prev !== undefined && prev > k) return false;
    prev = k;
    if (!keysSorted(v[k])) return false;
  }
  return true;
}

/** True when some string inside v holds a CRLF. */
export function hasCrlf(v: unknown): boolean {
  if (typeof v === "string") return v.includes("\r\n");
  if (Array.isArray(v)) return v.some(hasCrlf);
  if (isObj(v)) {
    for (const k in v) if (hasCrlf(v[k])) return true;
  }
  return false;
}

export function lf(s: string): string {
  return s.includes("\r\n") ? s.replaceAll("\r\n", "\n") : s;
}

/** A deep copy with keys sorted and/or CRLF turned into LF; values that need neither are shared. */
export function canonicalCopy(v: unknown, sort: boolean, toLf: boolean): unknown {
  if (typeof v === "string") return toLf ? lf(v) : v;
  if (Array.isArray(v)) return v.map((x) => canonicalCopy(x, sort, toLf));
  if (!isObj(v)) return v;
  const out: Json = {};
  for (const k of sort ? sortedKeys(v) : Object.keys(v)) setOwn(out, k, canonicalCopy(v[k], sort, toLf));
  return out;
}

/**
 * `o[k] = value` that keeps a key named `__proto__` as the own property JSON.parse made it (a plain
 * assignment would set the prototype instead, and the key would vanish from the forwarded body).
 */
export function setOwn(o: Json, k: string, value: unknown): void {
  if (k === "__proto__")
    Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
  else o[k] = value;
}

/** The first value of an object's `name`, `function.name` or `type`, for ordering tools. */
export function toolSortKey(tool: unknown): string {
  if (!isObj(tool)) return "";
  const fn = tool.function;
  if (isObj(fn) && typeof fn.name === "string") return fn.name;
  const custom = tool.custom;
  if (isObj(custom) && typeof custom.name === "string") return custom.name;
  if (typeof tool.name === "string") return tool.name;
  return typeof tool.type === "string" ? tool.type : "";
}
