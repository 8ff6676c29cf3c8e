// Overview (the stat cards are in the shell, on every view): what needs attention, the charts, source health and OpenAlgo's settings.

import { h, replace, type Child } from "../dom";
import type { OpenAlgoSettings, Overview, SinkStatus, SourceView } from "../ipc";
import { offendersChart, perMinuteChart } from "../components/chart";
import { healthWords, hoursWords, num } from "../format";
import { card, page, type View } from "./common";

function yesNo(v: boolean | null): string {
  return v === null ? "unknown" : v ? "on" : "off";
}

function sourceRow(src: SourceView): HTMLElement {
  const w = healthWords(src.health);
  return h(
    "li",
    { class: `source tone-${w.tone}` },
    h("span", { class: `dot tone-${w.tone}`, "aria-hidden": "true" }),
    h(
      "div",
      { class: "source-main" },
      h("div", null, h("strong", null, src.name), " ", h("span", { class: `state tone-${w.tone}` }, w.text)),
      h("div", { class: "source-path muted", title: src.path }, src.path),
      src.health.state !== "ok" ? h("div", { class: "source-detail" }, src.health.detail) : null,
      src.detail ? h("div", { class: "source-detail muted" }, src.detail) : null,
    ),
  );
}

/** An enforcement point (nginx, the kernel), as a row of the same list. */
function sinkRow(s: SinkStatus): HTMLElement {
  const tone = s.state === "working" ? "ok" : "danger";
  const lapi = s.name === "crowdsec";
  const name = s.name === "nftables" ? "kernel (nftables)" : lapi ? "CrowdSec LAPI" : s.name;
  const words = lapi
    ? s.state === "working" ? `connected, enforcing ${num(s.entries)} of its decisions` : "not reachable: bans are not shared"
    : s.state === "working" ? `refusing ${num(s.entries)}` : "bans are not reaching it";
  return h(
    "li",
    { class: `source tone-${tone}`, "data-sink": s.name },
    h("span", { class: `dot tone-${tone}`, "aria-hidden": "true" }),
    h(
      "div",
      { class: "source-main" },
      h("div", null, h("strong", null, name), " ", h("span", { class: `state tone-${tone}` }, words)),
      s.error ? h("div", { class: "source-detail" }, s.error) : null,
    ),
  );
}

function openAlgoCard(oa: OpenAlgoSettings | null): HTMLElement {
  if (!oa) return card("OpenAlgo's own protection", h("p", { class: "muted" }, "openalgo.db was not found beside logs.db, so OpenAlgo's own ban settings are not shown. Set its path in Settings."));
  const rows: [string, Child][] = [
    ["Bans by itself", yesNo(oa.auto_ban)],
    ["Pages not found before a ban", oa.not_found_threshold === null ? "—" : num(oa.not_found_threshold)],
    ["… ban length", hoursWords(oa.not_found_ban_hours)],
    ["Invalid API keys before a ban", oa.api_threshold === null ? "—" : num(oa.api_threshold)],
    ["… ban length", hoursWords(oa.api_ban_hours)],
    ["Bans before a permanent ban", oa.repeat_offender_limit === null ? "—" : num(oa.repeat_offender_limit)],
    ["Trusts proxy headers", yesNo(oa.trust_proxy_headers)],
  ];
  return card(
    "OpenAlgo's own protection",
    h("dl", { class: "kv" }, rows.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])),
  );
}

/** Where the requests-per-minute chart was counted, in words. */
const CHART_SOURCE: Record<string, string> = {
  "access log": "Counted from the nginx access log, which sees every request.",
  "logs.db": "Counted from OpenAlgo's traffic log (add the nginx access log in Settings to see every request).",
  none: "",
};

export function overviewView(): View {
  const warnings = h("div", { class: "warnings" });
  const perMinute = h("div", { class: "chart-slot" });
  const offenders = h("div", { class: "chart-slot" });
  const chartSource = h("p", { class: "muted small", "data-testid": "chart-source" });
  const sources = h("ul", { class: "sources" });
  const openalgo = h("div");

  const root = page(
    "Overview",
    "What Warden sees right now.",
    warnings,
    h(
      "div",
      { class: "grid-2" },
      card("Requests per minute (last hour)", chartSource, perMinute),
      card("Top offenders", h("p", { class: "muted small" }, "Pages not found and invalid API keys in the current window."), offenders),
    ),
    h("div", { class: "grid-2" }, card("Where Warden reads and enforces", sources), openalgo),
  );

  function draw(ov: Overview) {
    chartSource.textContent = CHART_SOURCE[ov.per_minute_source] ?? "";
    replace(
      warnings,
      ov.warnings.length
        ? ov.warnings.map((w) =>
            h("div", { class: `warning tone-${w.level}`, "data-warning": w.id }, h("strong", null, w.title), h("span", null, w.text)),
          )
        : h("div", { class: "warning tone-ok" }, h("strong", null, "All clear."), h("span", null, "Nothing needs your attention.")),
    );
    replace(perMinute, perMinuteChart(ov.per_minute));
    replace(offenders, offendersChart(ov.top, Math.max(ov.not_found_threshold, ov.api_threshold)));
    replace(
      sources,
      ov.sources.length ? ov.sources.map(sourceRow) : h("li", { class: "muted" }, "No sources configured."),
      (ov.sinks ?? []).map(sinkRow),
    );
    replace(openalgo, openAlgoCard(ov.openalgo));
  }

  // The app at rest redraws nothing: a refresh that brings the same overview leaves the page alone.
  let shown = "";
  return {
    root,
    async refresh(ov) {
      if (!ov) return;
      const json = JSON.stringify(ov);
      if (json === shown) return;
      shown = json;
      draw(ov);
    },
  };
}
