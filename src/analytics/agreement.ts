// Anthropic cache diagnostics beside Stoker's own cache-buster findings (docs/analytics.md "Provider
// diagnostics"): which provider reason each kind of finding corresponds to, and how often the two agree.

/** Stoker's diverging segment kind (src/prefix/diff.ts) -> the provider's `cache_miss_reason` type. */
export const PROVIDER_REASON_OF_KIND: Readonly<Record<string, string>> = {
  model: "model_changed",
  tools: "tools_changed",
  system: "system_changed",
  message: "messages_changed",
  // Same model, tools and system; another prompt-affecting parameter (thinking, tool_choice) differs.
  params: "unavailable",
};

/** A provider reason that says it could not compare: no verdict to agree or disagree with. */
export const NO_VERDICT = "previous_message_not_found";

/** Whether Stoker's finding of `kind` and the provider's `reason` name the same divergence. */
export function agrees(kind: string, reason: string): boolean {
  return PROVIDER_REASON_OF_KIND[kind] === reason;
}

/** SQL: the provider reason that agrees with the `kind` column. */
export const AGREEING_REASON_SQL = `CASE kind ${Object.entries(PROVIDER_REASON_OF_KIND)
  .map(([k, r]) => `WHEN '${k}' THEN '${r}'`)
  .join(" ")} END`;

/** Findings the provider gave a verdict on, and of those the ones that agree with Stoker (SQL sums). */
export const COMPARED_SQL = `SUM(CASE WHEN provider_reason IS NOT NULL AND provider_reason <> '${NO_VERDICT}' THEN 1 ELSE 0 END)`;
export const AGREE_SQL = `SUM(CASE WHEN provider_reason = ${AGREEING_REASON_SQL} THEN 1 ELSE 0 END)`;

/** Counts of comma-joined reasons (`GROUP_CONCAT`; reasons are `[a-z_]+`). */
export function countReasons(joined: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  if (!joined) return out;
  for (const r of joined.split(",")) out[r] = (out[r] ?? 0) + 1;
  return out;
}

export interface AgreementRow {
  /** Buster findings the provider gave a verdict on (any reason but previous_message_not_found). */
  compared: number;
  /** Of those, findings where the provider's reason is the one Stoker's kind maps to. */
  agree: number;
  /** Buster findings without a provider reason (not Anthropic, diagnostics off, or not asked). */
  stoker_only: number;
  /** Requests the provider reported a divergence for (a `*_changed` reason) with no Stoker finding. */
  provider_only: number;
  /** Every provider reason stored on the requests (35 days), comma-joined. */
  reasons: string | null;
}

/** Agreement over all stored findings and requests. */
export function agreement(sql: SqlStorage): AgreementRow {
  const b = sql
    .exec<{ compared: number | null; agree: number | null; stoker_only: number | null }>(
      `SELECT ${COMPARED_SQL} AS compared, ${AGREE_SQL} AS agree,
          SUM(CASE WHEN provider_reason IS NULL THEN 1 ELSE 0 END) AS stoker_only FROM busters`,
    )
    .one();
  const r = sql
    .exec<{ provider_only: number | null; reasons: string | null }>(
      `SELECT SUM(CASE WHEN miss_reason LIKE '%\\_changed' ESCAPE '\\'
            AND request_id NOT IN (SELECT request_id FROM busters) THEN 1 ELSE 0 END) AS provider_only,
          GROUP_CONCAT(miss_reason) AS reasons
        FROM requests WHERE miss_reason IS NOT NULL`,
    )
    .one();
  return {
    compared: b.compared ?? 0,
    agree: b.agree ?? 0,
    stoker_only: b.stoker_only ?? 0,
    provider_only: r.provider_only ?? 0,
    reasons: r.reasons,
  };
}
