// Words and numbers for people: local times (UTC on hover), relative times, health in plain language.

import type { DurationChoice, Health, Rule, Source, Time } from "./ipc";
import { h } from "./dom";

const pad = (n: number) => String(n).padStart(2, "0");

function parse(t: Time | null | undefined): Date | null {
  if (!t) return null;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** RFC 3339 UTC without milliseconds, e.g. "2026-11-22T02:14:41Z"; "" when unknown. */
export function utc(t: Time | null | undefined): string {
  const d = parse(t);
  if (!d) return "";
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Local time: "14:03:12" for today, "2026-11-21 14:03" otherwise; "—" when unknown. */
export function localTime(t: Time | null | undefined, now: Date = new Date()): string {
  const d = parse(t);
  if (!d) return "—";
  const hms = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const sameDay =
    d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate();
  if (sameDay) return hms;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hms.slice(0, 5)}`;
}

/** Local "HH:MM", for chart axes. */
export function clock(t: Time | null | undefined): string {
  const d = parse(t);
  return d ? `${pad(d.getHours())}:${pad(d.getMinutes())}` : "";
}

/** A <time> element: local time as text, the UTC instant in `title` and `datetime`. */
export function timeEl(t: Time | null | undefined, now?: Date): HTMLElement {
  const u = utc(t);
  if (!u) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: u, title: u, class: "time" }, localTime(t, now));
}

function span(ms: number): string {
  const min = ms / 60_000;
  if (min < 1) return "under a minute";
  if (min < 60) return `${Math.ceil(min)} min`;
  const hours = min / 60;
  if (hours < 48) return `${Math.round(hours)} h`;
  return `${Math.round(hours / 24)} d`;
}

/** "in 23 h", "in 5 min", "in 3 d"; "expired" once past. */
export function expiresIn(t: Time | null | undefined, now: Date = new Date()): string {
  const d = parse(t);
  if (!d) return "—";
  const ms = d.getTime() - now.getTime();
  if (ms <= 0) return "expired";
  return `in ${span(ms)}`;
}

/** "5 min ago", "3 h ago"; "just now" under a minute. */
export function ago(t: Time | null | undefined, now: Date = new Date()): string {
  const d = parse(t);
  if (!d) return "—";
  const ms = now.getTime() - d.getTime();
  if (ms < 60_000) return "just now";
  return `${span(ms)} ago`;
}

/** 12345 → "12,345" (locale grouping). */
export function num(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return "—";
  return n.toLocaleString();
}

export const DURATIONS: { value: DurationChoice; label: string }[] = [
  { value: "24h", label: "24 hours" },
  { value: "48h", label: "48 hours" },
  { value: "1w", label: "1 week" },
  { value: "permanent", label: "Permanent" },
];

export function durationLabel(d: DurationChoice): string {
  return DURATIONS.find((x) => x.value === d)?.label ?? d;
}

/** A source's state in words. */
export function healthWords(hl: Health): { text: string; tone: "ok" | "warn" | "danger" } {
  switch (hl.state) {
    case "ok":
      return { text: "Working", tone: "ok" };
    case "missing":
      return { text: "Not found", tone: "danger" };
    case "no_schema":
      return { text: "Not an OpenAlgo database", tone: "danger" };
    case "locked":
      return { text: "Busy (locked by another program)", tone: "warn" };
    case "failing":
      return { text: "Failing", tone: "danger" };
  }
}

export function ruleWords(r: Rule): string {
  return { "404": "pages not found (404)", api: "invalid API keys", login: "failed logins", rate: "too many requests" }[r] ?? r;
}

export function sourceWords(s: Source): string {
  return s === "openalgo" ? "OpenAlgo" : "nginx log";
}

/** Hours as words: 0 is permanent. */
export function hoursWords(h: number | null | undefined): string {
  if (h === null || h === undefined) return "—";
  if (h === 0) return "permanent";
  if (h % 24 === 0 && h >= 48) return `${h / 24} days`;
  return `${h} h`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${num(n)} ${n === 1 ? one : many}`;
}
