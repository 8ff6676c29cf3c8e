// Settings: where the files are, the thresholds, the allow-list and the alerts. Checked here for the
// obvious mistakes; the app checks again and its message for each field is shown beside that field.

import { clear, field, h, replace } from "../dom";
import { api, asError, type AccessLogSetting, type OpenAlgoSettings, type Settings } from "../ipc";
import { toast } from "../components/toast";
import { card, page, type Ctx, type View } from "./common";
import { channelsEditor } from "./channels";
import { crowdsecEditor } from "./crowdsec";

type NumKey = "not_found_threshold" | "not_found_ban_hours" | "api_threshold" | "api_ban_hours" | "repeat_offender_limit";

const NUMBERS: { key: NumKey; label: string; lo: number; hi: number; hint: string; oa: keyof OpenAlgoSettings }[] = [
  { key: "not_found_threshold", label: "Pages not found before a ban", lo: 1, hi: 10_000, hint: "404s within the window", oa: "not_found_threshold" },
  { key: "not_found_ban_hours", label: "… ban length (hours)", lo: 0, hi: 87_600, hint: "0 means permanent", oa: "not_found_ban_hours" },
  { key: "api_threshold", label: "Invalid API keys before a ban", lo: 1, hi: 10_000, hint: "attempts within the window", oa: "api_threshold" },
  { key: "api_ban_hours", label: "… ban length (hours)", lo: 0, hi: 87_600, hint: "0 means permanent", oa: "api_ban_hours" },
  { key: "repeat_offender_limit", label: "Bans before a permanent ban", lo: 1, hi: 100, hint: "repeat offenders", oa: "repeat_offender_limit" },
];

export const FORMATS = ["combined", "common", "apache-combined", "caddy"];

/** A whole number in [lo, hi], or the reason it is not. */
export function checkInt(text: string, lo: number, hi: number): number | string {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return "Type a whole number.";
  const n = Number(t);
  if (n < lo || n > hi) return `Must be from ${lo.toLocaleString()} to ${hi.toLocaleString()}.`;
  return n;
}

/** "80" (%) → 0.8, or the reason it is not a usable fraction. */
export function checkPercent(text: string): number | string {
  const n = Number(text.trim());
  if (!text.trim() || !Number.isFinite(n)) return "Type a percentage.";
  if (n <= 0 || n > 100) return "Must be above 0 and at most 100 %.";
  return Math.round(n * 100) / 10_000;
}

/** The error element of a server field name: `access_logs[0].path` goes to `access_logs`. */
export function errorSlotName(name: string): string {
  return name.split(/[.[]/)[0];
}

export function settingsView(ctx: Ctx): View {
  const inputs = new Map<string, HTMLInputElement>();
  const num = (key: string) => {
    const el = h("input", { type: "text", inputmode: "numeric", class: "w-num", name: key });
    inputs.set(key, el);
    return el;
  };
  const text = (key: string) => {
    const el = h("input", { type: "text", class: "w-path", name: key, spellcheck: "false" });
    inputs.set(key, el);
    return el;
  };
  const browse = (target: HTMLInputElement, title: string) =>
    h(
      "button",
      {
        type: "button",
        class: "btn",
        onclick: async () => {
          try {
            const p = await api.chooseFile(title);
            if (p) target.value = p;
          } catch (e) {
            toast({ tone: "danger", title: "Could not open the file chooser", text: asError(e).message });
          }
        },
      },
      "Browse…",
    );
  const withBrowse = (el: HTMLInputElement, title: string) => h("div", { class: "row" }, el, browse(el, title));

  const logsDb = text("logs_db");
  const openalgoDb = text("openalgo_db");
  const logsBox = h("div", { class: "access-logs" });
  const logRows: { path: HTMLInputElement; format: HTMLInputElement; el: HTMLElement }[] = [];
  const formats = h("datalist", { id: "log-formats" }, FORMATS.map((f) => h("option", { value: f })));

  function addLog(l: AccessLogSetting) {
    const path = h("input", { type: "text", class: "w-path", value: l.path, placeholder: "/var/log/nginx/access.log", "aria-label": "Access log path" });
    const format = h("input", { type: "text", class: "w-format", value: l.format, list: "log-formats", "aria-label": "Log format" });
    const row = { path, format, el: h("div") };
    row.el = h(
      "div",
      { class: "row access-log" },
      path,
      browse(path, "Choose an access log"),
      format,
      h("button", { type: "button", class: "btn ghost", "aria-label": "Remove", onclick: () => { row.el.remove(); logRows.splice(logRows.indexOf(row), 1); } }, "Remove"),
    );
    logRows.push(row);
    logsBox.appendChild(row.el);
  }

  const mode = (v: "warden" | "openalgo", label: string) =>
    h("label", { class: "radio" }, h("input", { type: "radio", name: "thresholds", value: v, onchange: syncMode }), " ", label);
  const modeBox = h("div", { class: "radios", role: "radiogroup" }, mode("warden", "Warden's own numbers"), mode("openalgo", "Follow OpenAlgo's settings"));
  const oaHints = new Map<string, HTMLElement>();
  const numberFields = NUMBERS.map((n) => {
    const hint = h("span", { class: "oa-hint" });
    oaHints.set(n.key, hint);
    return field(n.key, n.label, num(n.key), [n.hint, hint]);
  });
  const allow = h("textarea", { rows: 5, class: "w-path", name: "allow", spellcheck: "false", placeholder: "203.0.113.7\n10.0.0.0/8" });
  const near = num("near_fraction");
  const check = (key: string, label: string) => {
    const el = h("input", { type: "checkbox", name: key });
    inputs.set(key, el);
    return h("label", { class: "check" }, el, " ", label);
  };
  const authAttempts = num("login_auth_attempts");
  const denyHours = num("login_deny_hours");
  const channels = channelsEditor();
  const crowdsec = crowdsecEditor();
  const configPath = h("code", { class: "muted" });
  const general = h("div", { class: "form-error", "data-testid": "settings-error", role: "alert" });
  const status = h("span", { class: "muted", "aria-live": "polite" });
  const saveBtn = h("button", { type: "submit", class: "btn primary", "data-testid": "settings-save" }, "Save settings");
  let current: Settings | null = null;

  function modeValue(): "warden" | "openalgo" {
    return modeBox.querySelector<HTMLInputElement>('input[value="openalgo"]')!.checked ? "openalgo" : "warden";
  }

  function syncMode() {
    const following = modeValue() === "openalgo";
    const oa = ctx.overview()?.openalgo;
    for (const n of NUMBERS) {
      inputs.get(n.key)!.disabled = following;
      const v = oa?.[n.oa];
      oaHints.get(n.key)!.textContent = following ? ` · OpenAlgo: ${v === null || v === undefined ? "unknown" : String(v)}` : "";
    }
  }

  function fill(s: Settings) {
    current = s;
    inputs.get("logs_db")!.value = s.logs_db;
    inputs.get("openalgo_db")!.value = s.openalgo_db;
    logRows.length = 0;
    clear(logsBox);
    s.access_logs.forEach(addLog);
    modeBox.querySelector<HTMLInputElement>(`input[value="${s.thresholds === "openalgo" ? "openalgo" : "warden"}"]`)!.checked = true;
    for (const n of NUMBERS) inputs.get(n.key)!.value = String(s[n.key]);
    allow.value = s.allow.join("\n");
    near.value = String(Math.round(s.near_fraction * 10_000) / 100);
    inputs.get("notify_near")!.checked = s.notify_near;
    inputs.get("notify_banned")!.checked = s.notify_banned;
    inputs.get("notify_sources")!.checked = s.notify_sources;
    inputs.get("notify_checklist")!.checked = s.notify_checklist;
    inputs.get("notify_attack")!.checked = s.notify_attack;
    inputs.get("notify_signin_new_address")!.checked = s.notify_signin_new_address;
    inputs.get("notify_signin")!.checked = s.notify_signin;
    authAttempts.value = String(s.login_auth_attempts);
    denyHours.value = String(Math.round((s.login_deny_seconds / 3600) * 100) / 100);
    channels.fill(s.alerts);
    crowdsec.fill(s.crowdsec);
    configPath.textContent = s.config_path ?? "not saved (no home folder)";
    syncMode();
  }

  function showErrors(errors: Record<string, string>) {
    for (const el of form.querySelectorAll<HTMLElement>("[data-error-for]")) el.textContent = "";
    form.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
    const rest: string[] = [];
    const slots = new Map<string, HTMLElement>();
    for (const el of form.querySelectorAll<HTMLElement>("[data-error-for]")) slots.set(el.getAttribute("data-error-for")!, el);
    for (const [name, msg] of Object.entries(errors)) {
      const slot = slots.get(errorSlotName(name));
      if (!slot) {
        rest.push(name === "form" ? msg : `${name}: ${msg}`);
        continue;
      }
      slot.textContent = slot.textContent ? `${slot.textContent} ${msg}` : msg;
      slot.parentElement?.querySelector("input, textarea, select")?.classList.add("invalid");
    }
    general.textContent = rest.join(" ");
  }

  function collect(): { settings: Settings; errors: Record<string, string> } {
    const errors: Record<string, string> = {};
    const base = current!;
    const thresholds = modeValue();
    const s: Settings = {
      ...base,
      logs_db: inputs.get("logs_db")!.value.trim(),
      openalgo_db: inputs.get("openalgo_db")!.value.trim(),
      // Rows left empty are dropped, as the app does.
      access_logs: logRows
        .map((r) => ({ path: r.path.value.trim(), format: r.format.value.trim() || "combined" }))
        .filter((l) => l.path),
      thresholds,
      allow: allow.value.split("\n").map((l) => l.trim()).filter(Boolean),
      notify_near: inputs.get("notify_near")!.checked,
      notify_banned: inputs.get("notify_banned")!.checked,
      notify_sources: inputs.get("notify_sources")!.checked,
      notify_checklist: inputs.get("notify_checklist")!.checked,
      notify_attack: inputs.get("notify_attack")!.checked,
      notify_signin_new_address: inputs.get("notify_signin_new_address")!.checked,
      notify_signin: inputs.get("notify_signin")!.checked,
      alerts: channels.collect(),
      crowdsec: crowdsec.collect(),
    };
    const attempts = checkInt(authAttempts.value, 1, 10_000);
    if (typeof attempts === "number") s.login_auth_attempts = attempts;
    else errors.login_auth_attempts = attempts;
    const hours = Number(denyHours.value.trim());
    if (!denyHours.value.trim() || !Number.isFinite(hours) || hours < 0 || hours > 87_600) errors.login_deny_seconds = "Type a number of hours from 0 (permanent) to 87,600.";
    else s.login_deny_seconds = Math.round(hours * 3600);
    if (!s.logs_db) errors.logs_db = "Where is OpenAlgo's logs.db?";
    for (const n of NUMBERS) {
      const v = checkInt(inputs.get(n.key)!.value, n.lo, n.hi);
      if (typeof v === "number") s[n.key] = v;
      else if (thresholds === "warden") errors[n.key] = v;
    }
    const f = checkPercent(near.value);
    if (typeof f === "number") s.near_fraction = f;
    else errors.near_fraction = f;
    return { settings: s, errors };
  }

  async function save() {
    if (!current) return;
    status.textContent = "";
    const { settings, errors } = collect();
    showErrors(errors);
    if (Object.keys(errors).length) {
      status.textContent = "Please fix the marked fields.";
      return;
    }
    saveBtn.disabled = true;
    try {
      fill(await api.saveSettings(settings));
      status.textContent = "Saved.";
      toast({ tone: "ok", title: "Settings saved", timeout: 3000 });
      ctx.refreshNow();
    } catch (e) {
      const err = asError(e);
      if (err.kind === "invalid_settings" && err.fields) {
        showErrors(err.fields);
        if (!general.textContent) general.textContent = err.message;
      } else {
        general.textContent = err.message;
      }
      status.textContent = "Not saved.";
    } finally {
      saveBtn.disabled = false;
    }
  }

  const form = h(
    "form",
    { class: "form settings", "data-testid": "settings-form", onsubmit: (e: Event) => (e.preventDefault(), void save()) },
    card(
      "Files",
      field("logs_db", "OpenAlgo's logs.db", withBrowse(logsDb, "Choose OpenAlgo's logs.db")),
      field("openalgo_db", "OpenAlgo's openalgo.db (its settings)", withBrowse(openalgoDb, "Choose OpenAlgo's openalgo.db")),
      h(
        "div",
        { class: "field", "data-field": "access_logs" },
        h("div", { class: "label" }, "nginx access logs (path and format)"),
        logsBox,
        formats,
        h("button", { type: "button", class: "btn ghost", onclick: () => addLog({ path: "", format: "combined" }) }, "+ Add an access log"),
        h("div", { class: "field-error", "data-error-for": "access_logs", role: "alert" }),
      ),
    ),
    card(
      "When to ban",
      h("div", { class: "field", "data-field": "thresholds" }, modeBox, h("div", { class: "field-error", "data-error-for": "thresholds" })),
      h("div", { class: "grid-numbers" }, numberFields),
      field("near_fraction", "Warn when an address reaches (% of the threshold)", near, "80 % warns at 16 of 20"),
    ),
    card("Never ban", field("allow", "Allowed addresses (one IP or CIDR range per line)", allow, "Your own addresses, your broker's servers, your VPN.")),
    card(
      "Sign-ins",
      h(
        "div",
        { class: "grid-numbers" },
        field("login_auth_attempts", "Failed sign-ins before a ban", authAttempts, "from one address within 24 h: an attack"),
        field("login_deny_seconds", "… ban length (hours)", denyHours, "0 means permanent"),
      ),
    ),
    card(
      "Desktop alerts",
      check("notify_banned", "When an address is banned"),
      check("notify_attack", "When failed sign-ins become an attack"),
      check("notify_signin_new_address", "When someone signs in from a new address"),
      check("notify_signin", "On every sign-in"),
      check("notify_near", "When an address gets close to a ban"),
      check("notify_sources", "When a log or database can't be read"),
      check("notify_checklist", "When a server check starts failing"),
    ),
    card("Alerts on your phone", channels.el),
    card("Other servers", crowdsec.el),
    general,
    h("div", { class: "form-actions sticky" }, saveBtn, status, h("span", { class: "grow" }), h("span", { class: "muted small" }, "Saved to "), configPath),
  );

  const body = h("div", null, h("p", { class: "muted" }, "Loading settings…"));
  const root = page("Settings", "Where Warden reads from and when it bans.", body);
  let loaded = false;

  return {
    root,
    async refresh() {
      if (loaded) {
        syncMode();
        return; // never overwrite what the user is typing
      }
      try {
        fill(await api.settings());
        loaded = true;
        replace(body, form);
      } catch (e) {
        replace(body, h("div", { class: "notice tone-danger" }, "Could not load the settings: ", asError(e).message));
        throw e;
      }
    },
  };
}
