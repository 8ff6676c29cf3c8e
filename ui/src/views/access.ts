// Access policy: allow or deny an address or a range, for a time or until removed; the
// allow-list-only mode, with who it would cut off; and how nginx and the kernel are doing.

import { field, h, replace } from "../dom";
import { api, asError, type AccessView, type Policy, type SinkStatus } from "../ipc";
import { VirtualTable } from "../components/table";
import { confirmDialog } from "../components/modal";
import { toast } from "../components/toast";
import { expiresIn, localTime, num, timeEl } from "../format";
import { attempt, card, page, type Ctx, type View } from "./common";

/** The time-to-live presets the form offers; "custom" takes seconds from the field beside it. */
export const TTLS: { value: string; label: string }[] = [
  { value: "", label: "Until removed" },
  { value: "30m", label: "30 minutes" },
  { value: "24h", label: "24 hours" },
  { value: "7d", label: "7 days" },
  { value: "custom", label: "Seconds…" },
];

function sinkLine(s: SinkStatus): HTMLElement {
  const tone = s.state === "working" ? "ok" : s.state === "failing" ? "danger" : "muted";
  const words =
    s.state === "off"
      ? "off (not configured)"
      : s.state === "working"
        ? `refusing ${num(s.entries)}${s.applied_at ? `, up to date since ${localTime(s.applied_at)}` : ""}`
        : "not up to date";
  return h(
    "li",
    { class: `source tone-${tone}`, "data-sink": s.name, "data-state": s.state },
    h("span", { class: `dot tone-${tone}`, "aria-hidden": "true" }),
    h(
      "div",
      { class: "source-main" },
      h("div", null, h("strong", null, s.name === "nftables" ? "Kernel (nftables)" : "nginx"), " ", h("span", { class: `state tone-${tone}` }, words)),
      s.error ? h("div", { class: "source-detail" }, s.error) : null,
    ),
  );
}

export function accessView(ctx: Ctx): View {
  const valueIn = h("input", { type: "text", "data-testid": "policy-value", placeholder: "203.0.113.7 or 203.0.113.0/24", spellcheck: "false", autocomplete: "off" });
  const kindIn = h(
    "select",
    { "data-testid": "policy-kind" },
    h("option", { value: "deny" }, "Deny: refuse it everywhere"),
    h("option", { value: "allow" }, "Allow: never ban it"),
  );
  const ttlIn = h("select", { "data-testid": "policy-ttl" }, TTLS.map((t) => h("option", { value: t.value }, t.label)));
  const secondsIn = h("input", { type: "number", min: "1", step: "1", "data-testid": "policy-seconds", placeholder: "seconds", hidden: true });
  ttlIn.addEventListener("change", () => (secondsIn.hidden = ttlIn.value !== "custom"));
  const reasonIn = h("input", { type: "text", "data-testid": "policy-reason", placeholder: "Why (for your records)", maxlength: 200 });
  const out = h("div", { class: "outcome", "data-testid": "policy-outcome", "aria-live": "polite" });
  const form = h(
    "form",
    {
      class: "form",
      onsubmit: (e: Event) => {
        e.preventDefault();
        void add();
      },
    },
    field("policy_value", "Address or range", valueIn),
    field("policy_kind", "What to do", kindIn),
    field("policy_ttl", "For how long", h("div", { class: "inline" }, ttlIn, secondsIn)),
    field("policy_reason", "Reason", reasonIn),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn primary", "data-testid": "policy-add" }, "Add entry")),
    out,
  );

  async function add() {
    const value = valueIn.value.trim();
    const err = form.querySelector<HTMLElement>('[data-error-for="policy_value"]')!;
    err.textContent = value ? "" : "Type an address or a range.";
    if (!value) return;
    const ttl = ttlIn.value === "custom" ? secondsIn.value.trim() : ttlIn.value;
    try {
      const p = await api.addPolicy(kindIn.value as "allow" | "deny", value, ttl, reasonIn.value.trim());
      replace(out, h("div", { class: "notice tone-ok" }, `${p.policy === "deny" ? "Denied" : "Allowed"} `, h("strong", null, p.value), p.expires_at ? ` until ${localTime(p.expires_at)}.` : " until you remove it."));
      valueIn.value = "";
      reasonIn.value = "";
      ctx.refreshNow();
    } catch (e) {
      replace(out, h("div", { class: "notice tone-danger", role: "alert" }, asError(e).message));
    }
  }

  async function remove(p: Policy) {
    const ok = await confirmDialog({
      title: `Remove the ${p.policy} entry for ${p.value}?`,
      body: h("p", null, p.policy === "deny" ? "Warden stops refusing " : "Warden may ban ", h("strong", null, p.value), p.policy === "deny" ? " (bans of its own still apply)." : " again if it misbehaves."),
      ok: "Remove",
      danger: p.policy === "allow",
    });
    if (!ok) return;
    if (await attempt(`Could not remove ${p.value}`, () => api.removePolicy(p.value))) {
      toast({ tone: "ok", title: `Removed ${p.value}` });
      ctx.refreshNow();
    }
  }

  const table = new VirtualTable<Policy>({
    testId: "policies-table",
    empty: "No entries. Add one above.",
    filterPlaceholder: "Filter by address, reason…",
    rowAttrs: (p) => ({ "data-value": p.value, "data-policy": p.policy }),
    sort: { key: "created", dir: "desc" },
    columns: [
      { key: "value", title: "Address or range", width: "minmax(150px, 1.3fr)", value: (p) => p.value, cell: (p) => h("code", null, p.value) },
      { key: "policy", title: "", width: "80px", value: (p) => p.policy, cell: (p) => h("span", { class: `badge ${p.policy === "deny" ? "danger" : "ok"}` }, p.policy) },
      { key: "left", title: "Time left", width: "130px", value: (p) => (p.expires_at ? Date.parse(p.expires_at) : Number.MAX_SAFE_INTEGER), cell: (p) => h("span", { title: p.expires_at ?? "" }, p.expires_at ? expiresIn(p.expires_at) : "until removed") },
      { key: "reason", title: "Reason", width: "minmax(140px, 2fr)", value: (p) => p.reason },
      { key: "created", title: "Added", width: "150px", value: (p) => p.created_at, cell: (p) => timeEl(p.created_at) },
      { key: "by", title: "By", width: "60px", value: (p) => p.created_by },
      {
        key: "action",
        title: "",
        width: "96px",
        align: "right",
        cell: (p) => h("button", { type: "button", class: "btn small", "data-testid": `policy-rm-${p.value}`, onclick: () => void remove(p) }, "Remove"),
      },
    ],
  });

  const modeState = h("p", { "data-testid": "allow-only-state" });
  const modeBtn = h("button", { type: "button", class: "btn", "data-testid": "allow-only-toggle" }, "…");
  const sinks = h("ul", { class: "sources", "data-testid": "sinks" });
  let last: AccessView | null = null;

  modeBtn.addEventListener("click", () => void toggleMode());
  async function toggleMode() {
    if (!last) return;
    if (last.allow_only) {
      const ok = await confirmDialog({ title: "Turn allow-list-only mode off?", body: h("p", null, "Everyone who is not banned or denied can reach OpenAlgo again."), ok: "Turn off" });
      if (ok && (await attempt("Could not turn the mode off", () => api.setAllowOnly(false))) !== undefined) ctx.refreshNow();
      return;
    }
    const plan = await attempt("Could not work out who would be cut off", () => api.allowOnlyPlan());
    if (!plan) return;
    if (plan.blocked) {
      await confirmDialog({ title: "Allow-list-only mode cannot be turned on yet", body: h("p", null, plan.blocked), ok: "OK" });
      return;
    }
    const shown = plan.refused.slice(0, 12);
    const ok = await confirmDialog({
      title: "Turn allow-list-only mode on?",
      body: [
        h("p", null, "Only these will reach OpenAlgo: ", h("strong", null, plan.admitted.join(", ")), "."),
        plan.refused.length
          ? [
              h("p", null, `${plan.refused.length} address${plan.refused.length === 1 ? "" : "es"} seen in the last 24 hours would be cut off:`),
              h("ul", { class: "plain small", "data-testid": "allow-only-cut-off" }, shown.map(([ip, n]) => h("li", null, h("code", null, ip), ` (${num(n)} requests)`))),
              plan.refused.length > shown.length ? h("p", { class: "muted" }, `and ${plan.refused.length - shown.length} more.`) : null,
            ]
          : h("p", { class: "muted" }, "Nobody seen in the last 24 hours would be cut off."),
      ],
      ok: "Turn on",
      danger: true,
    });
    if (ok && (await attempt("Could not turn the mode on", () => api.setAllowOnly(true))) !== undefined) ctx.refreshNow();
  }

  const root = page(
    "Access policy",
    "Allow or refuse addresses and ranges, for a while or for good. Deny entries are refused at every place Warden enforces; allow entries are never banned.",
    card("Add an entry", form),
    card(
      "Allow-list-only mode",
      h("div", { class: "checklist-head" }, modeState, modeBtn),
      h("p", { class: "muted small" }, "When on, nginx and the kernel admit only this machine, your allow entries and the addresses you are signed in from. SSH is never blocked."),
    ),
    card("Where bans are enforced", h("p", { class: "muted small" }, "OpenAlgo's own list (logs.db) always; nginx and the kernel when set up (see the README)."), sinks),
    card("Entries", table.el),
  );
  return {
    root,
    async refresh() {
      const v = await api.access();
      last = v;
      modeState.textContent = v.allow_only
        ? `On: only ${v.admitted.join(", ")} are admitted.`
        : "Off: everyone who is not banned or denied is admitted.";
      modeBtn.textContent = v.allow_only ? "Turn off…" : "Turn on…";
      modeBtn.classList.toggle("danger", !v.allow_only);
      replace(sinks, v.sinks.map(sinkLine));
      table.setRows(v.policies);
    },
    dispose: () => table.dispose(),
  };
}
