// The four live stat cards, at the top of every view: bans, permanent bans, suspicious addresses and
// addresses close to a ban. Each number element carries its `stat-*` test id and holds only the number.

import { h } from "../dom";
import type { Status } from "../ipc";
import { num } from "../format";

export type StatTarget = "bans" | "api" | "404";

interface Stat {
  key: keyof Status;
  testId: string;
  label: string;
  sub: (s: Status) => string;
  tone: (s: Status) => "calm" | "info" | "warn";
  go: StatTarget;
}

const STATS: Stat[] = [
  { key: "total_bans", testId: "stat-total-bans", label: "Banned now", sub: (s) => `${num(s.temporary_bans)} temporary`, tone: () => "calm", go: "bans" },
  { key: "permanent_bans", testId: "stat-permanent-bans", label: "Banned for good", sub: () => "permanent", tone: () => "calm", go: "bans" },
  {
    key: "suspicious_ips",
    testId: "stat-suspicious",
    label: "Suspicious",
    sub: () => "bad keys or missing pages",
    tone: (s) => (s.suspicious_ips > 0 ? "info" : "calm"),
    go: "404",
  },
  {
    key: "near_threshold",
    testId: "stat-near-threshold",
    label: "Close to a ban",
    sub: () => "near the threshold",
    tone: (s) => (s.near_threshold > 0 ? "warn" : "calm"),
    go: "api",
  },
];

export interface StatStrip {
  el: HTMLElement;
  update(s: Status): void;
}

export function statStrip(go: (to: StatTarget) => void): StatStrip {
  const parts = STATS.map((st) => {
    const value = h("span", { class: "stat-value", "data-testid": st.testId }, "–");
    const sub = h("span", { class: "stat-sub muted" });
    const card = h(
      "button",
      { type: "button", class: "stat tone-calm", "data-stat": st.key, onclick: () => go(st.go) },
      h("span", { class: "stat-label" }, st.label),
      value,
      sub,
    );
    return { st, value, sub, card };
  });
  return {
    el: h("div", { class: "stats", role: "status", "aria-label": "Summary" }, parts.map((p) => p.card)),
    update(s) {
      for (const p of parts) {
        p.value.textContent = String(s[p.st.key]);
        p.sub.textContent = p.st.sub(s);
        p.card.className = `stat tone-${p.st.tone(s)}`;
      }
    },
  };
}
