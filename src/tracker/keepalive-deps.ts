import type { Config } from "../core/config.ts";
import { open } from "../core/crypto.ts";
import type { KeepaliveSettings } from "../decide/keepalive-settings.ts";
import { sendPing } from "../keepalive/pinger.ts";
import { insertRequest } from "./accounting.ts";
import type { Conversations } from "./conversation-state.ts";
import { decodeSealedRequest, type RunDeps } from "./keepalive-run.ts";
import type { KeepaliveCandidates } from "./keepalive-store.ts";

/** The keepalive sweep's I/O inside the Tracker: its SQLite, its sealed rows, the network. */
export function sqlKeepaliveDeps(d: {
  sql: SqlStorage;
  tenantId: string;
  config: Config;
  settings: KeepaliveSettings;
  store: KeepaliveCandidates;
  conversations: Conversations;
  apiKeys: RunDeps["apiKeys"];
  refusedProviders?: RunDeps["refusedProviders"];
  inactive?: boolean;
}): RunDeps {
  const { sql, config, tenantId } = d;
  return {
    tenantId,
    config,
    settings: d.settings,
    store: d.store,
    conversations: d.conversations,
    apiKeys: d.apiKeys,
    refusedProviders: d.refusedProviders ?? [],
    inactive: d.inactive ?? false,
    open: async (row) =>
      decodeSealedRequest(
        await open(
          config.secret,
          tenantId,
          row.hash,
          { iv: row.iv ?? new ArrayBuffer(0), data: row.sealed ?? new ArrayBuffer(0) },
          "keepalive",
          true,
        ),
      ),
    send: (ping) => sendPing(ping),
    account: (record) => void insertRequest(sql, record),
    refreshed: (hash, cachedUntil, nowMs) =>
      void sql.exec(
        "UPDATE prefixes SET cached_until = ?, last_refresh = ? WHERE hash = ?",
        cachedUntil,
        nowMs,
        hash,
      ),
    clock: Date.now,
  };
}
