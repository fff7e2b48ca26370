// Stoker dashboard: plain browser JavaScript, no build step. Reads the tenant's own /v1/analytics/* with the
// key kept in sessionStorage (this tab only). Every value is written with textContent, never as HTML.
/* global uPlot */

const KEY = "stoker.tenantKey";
const RANGES = {
  "24h": { ms: 86_400_000, bucket: "5m", step: 300_000 },
  "7d": { ms: 7 * 86_400_000, bucket: "1h", step: 3_600_000 },
  "30d": { ms: 30 * 86_400_000, bucket: "1d", step: 86_400_000 },
};

const $ = (id) => document.getElementById(id);
const usd = (v) => {
  const a = Math.abs(v);
  return `${v < 0 ? "-" : ""}$${a >= 100 ? a.toFixed(0) : a >= 1 ? a.toFixed(2) : a.toFixed(4)}`;
};
const pct = (v) => `${(v * 100).toFixed(1)} %`;
const int = (v) => v.toLocaleString("en-US");
const ago = (iso) => {
  if (!iso) return "—";
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
};

let charts = [];

async function get(path) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${sessionStorage.getItem(KEY)}` } });
  const body = await res.json();
  if (!res.ok)
    throw Object.assign(new Error(body?.error?.message ?? `HTTP ${res.status}`), { status: res.status });
  return body;
}

function show(view) {
  for (const id of ["login", "empty", "data"]) $(id).hidden = id !== view;
}

function setText(el, text) {
  el.textContent = text;
  return el;
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function kpis(s) {
  const set = (name, text) => setText(document.querySelector(`[data-kpi="${name}"]`), text);
  set("requests", int(s.requests));
  set("hit_rate", pct(s.token_hit_rate));
  set("saved", usd(s.saved_usd));
  set("keepalive_cost", usd(s.keepalive.cost_usd));
  set("rewrites_avoided", int(s.keepalive.rewrites_avoided));
  set("net_saved", usd(s.net_saved_usd));
  set("cost", usd(s.cost_usd));
  set("cost_without_cache", usd(s.cost_without_cache_usd));
}

/** Bucket starts over the whole range (empty buckets as zeros) so the time axis is honest. */
function series(ts, range) {
  const step = RANGES[range].step;
  const byStart = new Map(ts.buckets.map((b) => [Date.parse(b.start), b]));
  const first = Math.floor(Date.parse(ts.range.from) / step) * step;
  const x = [];
  const hit = [];
  const saved = [];
  const kaCost = [];
  const kaAvoided = [];
  for (let t = first; t < Date.parse(ts.range.to); t += step) {
    const b = byStart.get(t);
    x.push(t / 1000);
    hit.push(b && b.input_tokens > 0 ? b.token_hit_rate * 100 : null);
    saved.push(b ? b.saved_usd : 0);
    kaCost.push(b ? b.keepalive.cost_usd : 0);
    kaAvoided.push(b ? b.keepalive.rewrites_avoided_usd : 0);
  }
  return { x, hit, saved, kaCost, kaAvoided };
}

function chart(el, title, data, opts) {
  const width = Math.max(320, el.clientWidth || 600);
  return new uPlot({ title, width, height: 220, ...opts }, data, el);
}

function drawCharts(s) {
  for (const c of charts) c.destroy();
  const money = { scale: "$", size: 70, values: (_u, v) => v.map((x) => usd(x)) };
  // Money axes start at 0 and stay readable with no spend at all.
  const moneyScale = { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 0.01] };
  charts = [
    chart($("chart-savings"), "Token hit rate and money saved", [s.x, s.hit, s.saved], {
      series: [
        {},
        {
          label: "hit rate %",
          stroke: "#2563eb",
          width: 2,
          spanGaps: true,
          scale: "%",
          points: { show: true, size: 5 },
        },
        {
          label: "saved $",
          stroke: "#16a34a",
          fill: "rgba(22,163,74,0.12)",
          scale: "$",
          value: (_u, v) => (v == null ? "—" : usd(v)),
        },
      ],
      axes: [
        {},
        { scale: "%", values: (_u, v) => v.map((x) => `${x}%`) },
        { side: 1, grid: { show: false }, ...money },
      ],
      scales: { "%": { range: [0, 100] }, $: moneyScale },
    }),
    chart($("chart-keepalive"), "Keepalive: spend vs. rewrites avoided", [s.x, s.kaCost, s.kaAvoided], {
      series: [
        {},
        {
          label: "ping spend $",
          stroke: "#dc2626",
          scale: "$",
          value: (_u, v) => (v == null ? "—" : usd(v)),
        },
        {
          label: "rewrites avoided $",
          stroke: "#16a34a",
          scale: "$",
          value: (_u, v) => (v == null ? "—" : usd(v)),
        },
      ],
      axes: [{}, money],
      scales: { $: moneyScale },
    }),
  ];
}

const PROVIDERS = { anthropic: "Anthropic", openai: "OpenAI", gemini: "Gemini", bedrock: "Amazon Bedrock" };

/** A provider's label; compat upstreams (COMPAT_UPSTREAMS) show their configured name. */
function providerLabel(upstream) {
  if (upstream.startsWith("compat:")) return `${upstream.slice(7)} (OpenAI-compatible)`;
  return PROVIDERS[upstream] ?? upstream;
}

function providerTable(rows) {
  const body = $("providers").tBodies[0];
  body.replaceChildren();
  for (const p of rows) {
    const r = body.insertRow();
    cell(r, providerLabel(p.upstream));
    cell(r, int(p.requests), "num");
    cell(r, pct(p.token_hit_rate), "num");
    cell(r, usd(p.cost_usd), "num");
    cell(r, usd(p.saved_usd), "num");
    cell(r, usd(p.net_saved_usd), "num");
  }
}

function explicitLine(e) {
  const el = $("explicit");
  el.hidden = !e || e.caches_created + e.ttl_extensions === 0;
  if (el.hidden) return;
  setText(
    el,
    `Gemini explicit caches: ${int(e.caches_created)} created, ${int(e.ttl_extensions)} TTL extensions, ` +
      `${usd(e.spend_usd)} creation and storage, ${int(e.read_tokens)} tokens read, net saved ${usd(e.net_saved_usd)}.`,
  );
}

function prefixTable(rows) {
  const body = $("prefixes").tBodies[0];
  body.replaceChildren();
  for (const p of rows) {
    const r = body.insertRow();
    cell(r, p.id, "mono");
    cell(r, p.model);
    cell(r, int(p.tokens), "num");
    cell(r, int(p.hits), "num");
    cell(r, int(p.misses), "num");
    cell(r, ago(p.last_hit));
    cell(
      r,
      p.ttl_left_seconds > 0
        ? `${Math.floor(p.ttl_left_seconds / 60)}:${String(p.ttl_left_seconds % 60).padStart(2, "0")}`
        : "expired",
    );
    cell(r, p.keepalive.status === "none" ? "—" : `${p.keepalive.status} (${p.keepalive.pings} pings)`);
    cell(r, usd(p.saved_usd), "num");
  }
  $("prefixes-empty").hidden = rows.length > 0;
}

function busterTable(rows) {
  const body = $("busters").tBodies[0];
  body.replaceChildren();
  for (const b of rows) {
    const r = body.insertRow();
    cell(r, b.segment === null ? b.kind : `${b.kind} #${b.segment}${b.volatile ? " (volatile)" : ""}`);
    cell(r, b.excerpt ?? "—", "mono excerpt");
    cell(r, int(b.count), "num");
    cell(r, int(b.tokens_lost), "num");
    cell(r, usd(b.cost_usd), "num");
    cell(r, providerSays(b));
    cell(r, b.fix, "fix");
  }
  $("busters-empty").hidden = rows.length > 0;
}

/** The provider's own reasons for a group's misses (Anthropic cache diagnostics), e.g. "system_changed ×2". */
function providerSays(b) {
  const reasons = Object.entries(b.provider_reasons ?? {});
  if (reasons.length === 0) return "—";
  const list = reasons.map(([reason, n]) => `${reason.replaceAll("_", " ")} ×${n}`).join(", ");
  return b.provider_compared > 0 ? `${list} (agrees ${b.provider_agrees}/${b.provider_compared})` : list;
}

/** How often Stoker's findings and Anthropic's cache diagnostics agree, over all stored findings. */
function agreementLine(a) {
  const el = $("busters-agreement");
  el.hidden = !a || (a.compared === 0 && a.provider_only === 0);
  if (el.hidden) return;
  const share = a.share === null ? "" : ` (${Math.round(a.share * 100)} %)`;
  el.textContent =
    `Anthropic's cache diagnostics agree with Stoker on ${int(a.agree)} of ${int(a.compared)} diagnosed findings${share}; ` +
    `${int(a.provider_only)} misses Anthropic explained that Stoker found no buster behind.`;
}

async function load() {
  const range = $("range").value;
  const to = Date.now();
  const from = to - RANGES[range].ms;
  $("status").textContent = "Loading…";
  try {
    const q = `from=${from}&to=${to}`;
    const [summary, ts, prefixes, busters] = await Promise.all([
      get(`/v1/analytics/summary?${q}`),
      get(`/v1/analytics/timeseries?${q}&bucket=${RANGES[range].bucket}`),
      get("/v1/analytics/prefixes?limit=10"),
      get("/v1/analytics/busters?limit=10"),
    ]);
    $("status").textContent = `Updated ${new Date().toLocaleTimeString()}`;
    if (summary.requests === 0 && prefixes.prefixes.length === 0) {
      show("empty");
      for (const el of document.querySelectorAll("[data-origin]")) el.textContent = location.origin;
      return;
    }
    show("data");
    kpis(summary);
    drawCharts(series(ts, range));
    providerTable(summary.by_upstream);
    explicitLine(summary.gemini_explicit);
    prefixTable(prefixes.prefixes);
    busterTable(busters.busters);
    agreementLine(busters.provider_agreement);
    document.body.dataset.loaded = "true";
  } catch (err) {
    if (err.status === 401) {
      sessionStorage.removeItem(KEY);
      show("login");
      $("login-error").textContent = "That key is not a Stoker tenant key.";
    } else $("status").textContent = `Could not load: ${err.message}`;
  }
}

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  const key = $("key").value.trim();
  if (!key) return;
  sessionStorage.setItem(KEY, key);
  $("key").value = "";
  $("login-error").textContent = "";
  load();
});
$("forget").addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  show("login");
});
$("range").addEventListener("change", load);
$("refresh").addEventListener("click", load);

if (sessionStorage.getItem(KEY)) load();
else show("login");
