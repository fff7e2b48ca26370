// The part of node:crypto the engine and the edge's body memo use (workerd provides it under nodejs_compat). src/ is typed
// without @types/node; this shim can go once the project's tsconfig adds the "node" types.
declare module "node:crypto" {
  interface Hash {
    update(data: string | Uint8Array): Hash;
    copy(): Hash;
    digest(): Uint8Array;
    digest(encoding: "hex" | "base64" | "base64url"): string;
  }
  interface Hmac {
    update(data: string | Uint8Array): Hmac;
    digest(encoding: "hex" | "base64" | "base64url"): string;
  }
  function createHash(algorithm: string): Hash;
  function createHmac(algorithm: string, key: string | Uint8Array): Hmac;
}

// node:buffer's byte comparison (memcmp), for the edge's body memo, and its native search of bytes.
declare module "node:buffer" {
  const Buffer: {
    compare(a: Uint8Array, b: Uint8Array): number;
    from(
      buffer: ArrayBufferLike,
      byteOffset?: number,
      length?: number,
    ): Uint8Array & { indexOf(value: string | Uint8Array, byteOffset?: number): number };
  };
}
