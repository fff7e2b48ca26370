import { hashOf } from "./hash.ts";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** Deterministic provider-looking ids (`msg_01…`, `req_01…`, `chatcmpl-…`): the n-th id never changes. */
export class IdFactory {
  #n = 0;

  /** The next id: `prefix` followed by `length` base62 characters. */
  next(prefix: string, length = 24): string {
    this.#n++;
    let out = "";
    for (let round = 0; out.length < length; round++) {
      const hex = hashOf(prefix, String(this.#n), String(round));
      for (let i = 0; i + 2 <= hex.length && out.length < length; i += 2) {
        out += BASE62[Number.parseInt(hex.slice(i, i + 2), 16) % 62];
      }
    }
    return prefix + out;
  }
}
