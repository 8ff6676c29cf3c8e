// Manual ban: one address, or every address behind a host name (previewed, with checkboxes).

import { field, h, replace } from "../dom";
import { api, asError, type DurationChoice, type HostPreview } from "../ipc";
import { confirmDialog } from "../components/modal";
import { DURATIONS, durationLabel, expiresIn, localTime } from "../format";
import { card, page, type Ctx, type Route, type View } from "./common";

function durationSelect(testId?: string): HTMLSelectElement {
  const attrs: Record<string, string> = {};
  if (testId) attrs["data-testid"] = testId;
  return h(
    "select",
    attrs,
    DURATIONS.map((d) => h("option", { value: d.value, selected: d.value === "48h" }, d.label)),
  );
}

function showError(box: HTMLElement, e: unknown) {
  replace(box, h("div", { class: "notice tone-danger", role: "alert" }, asError(e).message));
}

export function banView(ctx: Ctx, route: Route): View {
  // --- by address ---
  const ipIn = h("input", { type: "text", "data-testid": "ban-ip", placeholder: "e.g. 203.0.113.7", spellcheck: "false", autocomplete: "off" });
  const reasonIn = h("input", { type: "text", "data-testid": "ban-reason", placeholder: "Manual ban", maxlength: 200 });
  const durIn = durationSelect("ban-duration");
  const ipOut = h("div", { class: "outcome", "data-testid": "ban-outcome", "aria-live": "polite" });
  if (route.ip) ipIn.value = route.ip;

  const ipForm = h(
    "form",
    {
      class: "form",
      onsubmit: (e: Event) => {
        e.preventDefault();
        void submitIp();
      },
    },
    field("ban_ip", "Address (IPv4 or IPv6)", ipIn),
    field("ban_reason", "Reason (for your records)", reasonIn),
    field("ban_duration", "How long", durIn),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn danger", "data-testid": "ban-submit" }, "Ban address…")),
    ipOut,
  );

  async function submitIp() {
    const ip = ipIn.value.trim();
    const err = ipForm.querySelector<HTMLElement>('[data-error-for="ban_ip"]')!;
    err.textContent = ip ? "" : "Type the address to ban.";
    if (!ip) return;
    const duration = durIn.value as DurationChoice;
    const reason = reasonIn.value.trim();
    const ok = await confirmDialog({
      title: `Ban ${ip}?`,
      body: [
        h("p", null, "The address ", h("strong", null, ip), ` will be blocked for ${durationLabel(duration).toLowerCase()}.`),
        h("p", { class: "muted" }, "Reason: ", reason || "Manual ban"),
      ],
      ok: "Ban",
      danger: true,
    });
    if (!ok) return;
    try {
      const out = await api.ban(ip, reason, duration);
      replace(
        ipOut,
        h(
          "div",
          { class: "notice tone-ok" },
          "Banned ",
          h("strong", null, out.ip),
          out.permanent ? " permanently" : [" until ", localTime(out.expires_at), ` (${expiresIn(out.expires_at)})`],
          out.ban_count > 1 ? ` — ban number ${out.ban_count} for this address.` : ".",
        ),
      );
      ipIn.value = "";
      ctx.refreshNow();
    } catch (e) {
      showError(ipOut, e);
    }
  }

  // --- by host ---
  const hostIn = h("input", { type: "text", "data-testid": "host-input", placeholder: "e.g. scanner.example.net", spellcheck: "false" });
  const hostReason = h("input", { type: "text", "data-testid": "host-reason", placeholder: "Manual ban by host", maxlength: 200 });
  const hostDur = durationSelect("host-duration");
  const list = h("div", { class: "candidates", "data-testid": "host-candidates" });
  const hostOut = h("div", { class: "outcome", "aria-live": "polite" });
  const banSelected = h("button", { type: "button", class: "btn danger", disabled: true, "data-testid": "host-submit", onclick: () => void submitHost() }, "Ban selected…");
  let preview: HostPreview | null = null;
  const boxes = new Map<string, HTMLInputElement>();

  function updateCount() {
    const n = [...boxes.values()].filter((b) => b.checked).length;
    banSelected.disabled = n === 0;
    banSelected.textContent = n ? `Ban ${n} selected…` : "Ban selected…";
  }

  async function doPreview() {
    const host = hostIn.value.trim();
    replace(hostOut);
    boxes.clear();
    preview = null;
    updateCount();
    if (!host) {
      replace(list, h("p", { class: "field-error" }, "Type a host or domain name."));
      return;
    }
    replace(list, h("p", { class: "muted" }, "Looking up ", host, "…"));
    try {
      preview = await api.hostPreview(host);
    } catch (e) {
      showError(list, e);
      return;
    }
    const p = preview;
    replace(
      list,
      p.dns_error ? h("div", { class: "notice tone-warn" }, "DNS lookup failed: ", p.dns_error) : null,
      p.candidates.length
        ? h(
            "ul",
            { class: "plain candidate-list" },
            p.candidates.map((c) => {
              const box = h("input", { type: "checkbox", checked: !c.protected, disabled: !!c.protected, value: c.ip, onchange: updateCount });
              box.setAttribute("data-ip", c.ip);
              if (!c.protected) boxes.set(c.ip, box);
              return h(
                "li",
                { class: c.protected ? "is-protected" : "" },
                h("label", null, box, " ", h("code", null, c.ip)),
                h("span", { class: "muted small" }, " from ", c.from.join(" and ")),
                c.protected ? h("span", { class: "muted small" }, " — protected: ", c.protected) : null,
              );
            }),
          )
        : h("p", { class: "muted" }, "No addresses found for ", p.host, "."),
    );
    updateCount();
  }

  async function submitHost() {
    if (!preview) return;
    const ips = [...boxes.entries()].filter(([, b]) => b.checked).map(([ip]) => ip);
    if (!ips.length) return;
    const duration = hostDur.value as DurationChoice;
    const ok = await confirmDialog({
      title: `Ban ${ips.length} address${ips.length === 1 ? "" : "es"} of ${preview.host}?`,
      body: [h("ul", { class: "plain" }, ips.map((ip) => h("li", null, h("code", null, ip)))), h("p", { class: "muted" }, `For ${durationLabel(duration).toLowerCase()}.`)],
      ok: "Ban",
      danger: true,
    });
    if (!ok) return;
    try {
      const r = await api.banHost(preview.host, hostReason.value.trim(), duration, ips);
      replace(
        hostOut,
        h(
          "div",
          { class: "notice tone-ok" },
          h("div", null, `Banned ${r.banned.length}`, r.banned.length ? ": " : ".", r.banned.map((b) => b.ip).join(", ")),
          r.skipped.length
            ? h("ul", { class: "plain" }, r.skipped.map((s) => h("li", null, "Skipped ", h("code", null, s.ip), ": ", s.why)))
            : null,
        ),
      );
      ctx.refreshNow();
    } catch (e) {
      showError(hostOut, e);
    }
  }

  const hostForm = h(
    "form",
    {
      class: "form",
      onsubmit: (e: Event) => {
        e.preventDefault();
        void doPreview();
      },
    },
    field("host", "Host or domain", hostIn, "Warden looks it up in DNS and in the Host header of recent traffic."),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "btn", "data-testid": "host-preview" }, "Find addresses")),
    list,
    field("host_reason", "Reason", hostReason),
    field("host_duration", "How long", hostDur),
    h("div", { class: "form-actions" }, banSelected),
    hostOut,
  );

  const root = page(
    "Manual ban",
    "Block an address yourself. Protected addresses (your own, the allow-list) are never banned.",
    h("div", { class: "grid-2" }, card("Ban an address", ipForm), card("Ban a host or domain", hostForm)),
  );
  return { root, refresh: async () => {} };
}
