// Two small charts, no library: requests per minute by status (stacked SVG bars) and the top
// offenders (horizontal bars). Colours come from CSS classes; widths from SVG attributes or the CSSOM.

import { h, ipLink, protectedChip, s } from "../dom";
import type { MinuteBucket, Offender } from "../ipc";
import { clock, localTime, num, utc } from "../format";

export const SERIES: { key: keyof Omit<MinuteBucket, "at">; label: string }[] = [
  { key: "ok", label: "Normal" },
  { key: "not_found", label: "Not found (404)" },
  { key: "denied", label: "Denied (401/403)" },
  { key: "other_4xx", label: "Other client errors" },
  { key: "errors", label: "Server errors (5xx)" },
];

/** A round axis maximum at or above `n`: 1, 2, 5, 10, 20, 50, ... */
export function niceMax(n: number): number {
  if (n <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

const W = 640;
const H = 180;
const PAD = { l: 36, r: 8, t: 10, b: 22 };

/** Requests per minute, stacked by status class, oldest at the left. */
export function perMinuteChart(buckets: MinuteBucket[]): HTMLElement {
  const totals = buckets.map((b) => SERIES.reduce((sum, x) => sum + b[x.key], 0));
  const all = totals.reduce((a, b) => a + b, 0);
  const legend = h(
    "div",
    { class: "legend" },
    SERIES.map((x) => h("span", { class: "legend-item" }, h("span", { class: `swatch s-${x.key}` }), x.label)),
  );
  if (!buckets.length || all === 0) {
    return h("div", { class: "chart chart-empty" }, h("p", { class: "muted" }, "No requests in the last hour."), legend);
  }
  const max = niceMax(Math.max(...totals));
  const plotW = W - PAD.l - PAD.r;
  const plotH = H - PAD.t - PAD.b;
  const step = plotW / buckets.length;
  const barW = Math.max(1, step * 0.78);
  const y = (v: number) => PAD.t + plotH - (v / max) * plotH;

  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: "chart-svg",
    role: "img",
    "aria-label": `Requests per minute, last ${buckets.length} minutes`,
  });
  for (const v of [0, max / 2, max]) {
    svg.appendChild(s("line", { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v), class: "grid" }));
    svg.appendChild(s("text", { x: PAD.l - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, num(Math.round(v))));
  }
  buckets.forEach((b, i) => {
    const x = PAD.l + i * step + (step - barW) / 2;
    const g = s("g", { class: "bar" });
    let acc = 0;
    for (const sr of SERIES) {
      const v = b[sr.key];
      if (!v) continue;
      const top = y(acc + v);
      g.appendChild(s("rect", { x, y: top, width: barW, height: Math.max(0.5, y(acc) - top), class: `s-${sr.key}` }));
      acc += v;
    }
    const parts = SERIES.filter((sr) => b[sr.key]).map((sr) => `${sr.label}: ${num(b[sr.key])}`);
    g.appendChild(s("title", null, `${localTime(b.at)} (${utc(b.at)})\n${parts.join("\n") || "No requests"}`));
    // An invisible full-height target so thin bars still show their tooltip.
    g.insertBefore(s("rect", { x: PAD.l + i * step, y: PAD.t, width: step, height: plotH, class: "hit" }), g.firstChild);
    svg.appendChild(g);
    if (i % 15 === 0 || i === buckets.length - 1) {
      const label = clock(b.at);
      const anchor = i === 0 ? "start" : i === buckets.length - 1 ? "end" : "middle";
      const lx = i === 0 ? x : i === buckets.length - 1 ? x + barW : x + barW / 2;
      svg.appendChild(s("text", { x: lx, y: H - 6, class: "axis", "text-anchor": anchor }, label));
    }
  });
  return h("div", { class: "chart" }, svg, legend);
}

/** The addresses closest to (or past) a ban, longest bar first. */
export function offendersChart(top: Offender[], threshold: number): HTMLElement {
  if (!top.length) return h("div", { class: "chart chart-empty" }, h("p", { class: "muted" }, "Nobody is misbehaving right now."));
  const max = Math.max(threshold, ...top.map((o) => o.score), 1);
  return h(
    "div",
    { class: "offenders" },
    top.map((o) => {
      // An address that can never be banned gets grey bars: it is counted, not threatened.
      const isProtected = o.protected !== null && o.protected !== undefined;
      const nf = h("span", { class: `hbar-part ${isProtected ? "s-neutral" : "s-not_found"}`, title: `${num(o.not_found)} pages not found` });
      const api = h("span", { class: `hbar-part ${isProtected ? "s-neutral-2" : "s-denied"}`, title: `${num(o.api)} invalid API keys` });
      nf.style.width = `${(o.not_found / max) * 100}%`;
      api.style.width = `${(o.api / max) * 100}%`;
      const cls = `offender${o.banned ? " is-banned" : ""}${isProtected ? " is-protected" : ""}`;
      return h(
        "div",
        { class: cls, "data-ip": o.ip },
        h("div", { class: "offender-ip" }, ipLink(o.ip)),
        h("div", { class: "hbar" }, nf, api),
        h(
          "div",
          { class: "offender-score" },
          num(o.score),
          o.banned ? h("span", { class: "badge danger" }, "banned") : null,
          isProtected ? protectedChip("protected", o.protected || "This address can never be banned.") : null,
        ),
      );
    }),
  );
}
