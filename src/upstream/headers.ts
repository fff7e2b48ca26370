/** Headers that describe one hop of the connection, never forwarded (RFC 9110 §7.6.1), plus ones we recompute. */
const hopByHop = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
  "content-length",
]);

// Headers are copied whole and the dropped ones deleted: in workerd, reading every entry and appending it
// one by one costs more (an SDK's 14 request headers 32-35 against 22-24 µs; names alone read cheaply).

/** Request headers that identify the client's network path or carry Stoker's own state. */
function isPrivateRequestHeader(name: string): boolean {
  return (
    name.startsWith("cf-") ||
    name.startsWith("x-stoker-") ||
    name.startsWith("x-forwarded-") ||
    name === "x-real-ip" ||
    name === "true-client-ip" ||
    name === "forwarded" ||
    name === "cookie" ||
    // workerd's fetch negotiates and decodes compression itself.
    name === "accept-encoding"
  );
}

/** The key Stoker adds in managed mode; `tenantOwned` when it is the tenant's own, not the deploy's shared one. */
export type Credential = {
  header: "x-api-key" | "authorization" | "x-goog-api-key";
  value: string;
  tenantOwned?: boolean;
} | null;

/** Headers that pick an account at the provider: only with the client's own key or the tenant's own. */
const accountHeaders = new Set(["openai-organization", "openai-project"]);

/**
 * The headers sent upstream: the client's own (betas, versions, org/project, idempotency keys pass through),
 * minus hop-by-hop and private ones. In managed mode the client's credentials (its Stoker key) are replaced
 * by `credential`; in pass-through mode (`credential` undefined) the client's provider key goes as it came.
 * With the deploy's shared key (or none), `OpenAI-Organization` / `OpenAI-Project` are dropped: a tenant
 * must not choose the operator's organization or project, nor get errors that name them.
 */
export function upstreamRequestHeaders(incoming: Headers, credential: Credential | undefined): Headers {
  const out = new Headers(incoming);
  for (const name of incoming.keys()) {
    const drop =
      hopByHop.has(name) ||
      isPrivateRequestHeader(name) ||
      (credential !== undefined &&
        (name === "x-api-key" || name === "authorization" || name === "x-goog-api-key")) ||
      (credential !== undefined && !credential?.tenantOwned && accountHeaders.has(name));
    if (drop) out.delete(name);
  }
  if (credential)
    out.set(
      credential.header,
      credential.header === "authorization" ? `Bearer ${credential.value}` : credential.value,
    );
  out.set("content-type", "application/json");
  return out;
}

/** The upstream's response headers as the client gets them (the body may be re-framed, so no length). */
export function clientResponseHeaders(upstream: Headers): Headers {
  const out = new Headers(upstream);
  for (const name of upstream.keys())
    if (hopByHop.has(name) || name === "content-encoding" || name.startsWith("cf-") || name === "set-cookie")
      out.delete(name);
  return out;
}
