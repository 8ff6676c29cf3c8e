// Alert channels in Settings: Telegram, OpenAlgo's Telegram bot, Discord, ntfy and webhooks, each
// with the events it is told about and a "Send a test" button. A saved secret is only ever shown
// masked; leaving the token field empty keeps it.

import { h, replace } from "../dom";
import { api, asError, type AlertEvent, type ChannelForm } from "../ipc";

export const KINDS: { value: ChannelForm["kind"]; label: string; url: string; token: string }[] = [
  { value: "telegram", label: "Telegram (your own bot)", url: "https://api.telegram.org", token: "Bot token from @BotFather" },
  { value: "openalgo_telegram", label: "OpenAlgo's Telegram bot", url: "http://127.0.0.1:5000", token: "An OpenAlgo API key" },
  { value: "discord", label: "Discord", url: "https://discord.com/api/webhooks", token: "The webhook URL, or its ID/TOKEN part" },
  { value: "ntfy", label: "ntfy", url: "https://ntfy.sh", token: "Access token (optional)" },
  { value: "webhook", label: "Webhook (JSON, signed)", url: "https://…", token: "Signing key" },
  { value: "email", label: "E-mail", url: "smtps://mail.example.com", token: "SMTP password" },
];

export const EVENTS: { value: AlertEvent; label: string }[] = [
  { value: "banned", label: "Bans" },
  { value: "attack", label: "Sign-in attacks" },
  { value: "signin_new_address", label: "Sign-in from a new address" },
  { value: "signin", label: "Every sign-in" },
  { value: "near", label: "Close to a ban" },
  { value: "health", label: "Something stops working" },
  { value: "checklist", label: "A server check fails" },
  { value: "summary", label: "Daily summary" },
];

const DEFAULT_EVENTS: AlertEvent[] = ["banned", "attack", "signin_new_address", "health"];

/** A blank channel of `kind`. */
export function blankChannel(kind: ChannelForm["kind"], taken: string[]): ChannelForm {
  let name = kind === "openalgo_telegram" ? "openalgo" : kind;
  for (let i = 2; taken.includes(name); i++) name = `${kind}-${i}`;
  return { name, kind, url: "", token: "", token_masked: "", chat_id: "", topic: "", username: "", priority: null, tags: [], events: [...DEFAULT_EVENTS], summary_at: "", to: [], from: "", openalgo_smtp: false };
}

interface Row {
  el: HTMLElement;
  collect(): ChannelForm;
}

function channelRow(c: ChannelForm, remove: (r: Row) => void): Row {
  const kind = KINDS.find((k) => k.value === c.kind) ?? KINDS[0];
  const input = (value: string, label: string, attrs: Record<string, string> = {}) =>
    h("input", { type: "text", value, "aria-label": label, spellcheck: "false", ...attrs });
  const name = input(c.name, "Channel name", { class: "w-name", "data-testid": "channel-name" });
  const url = input(c.url, "Service address", { class: "w-path", placeholder: kind.url, "data-testid": "channel-url" });
  const token = h("input", {
    type: "password",
    class: "w-path",
    autocomplete: "off",
    "aria-label": "Token",
    "data-testid": "channel-token",
    placeholder: c.token_masked ? `saved: ${c.token_masked} (leave empty to keep)` : kind.token,
  });
  const chat = input(c.chat_id, "Chat id", { class: "w-num", placeholder: "4242", "data-testid": "channel-chat" });
  const topic = input(c.topic, "Topic", { class: "w-name", placeholder: "warden-alerts" });
  const user = input(c.username, "OpenAlgo user", { class: "w-name", placeholder: "trader" });
  const smtpUser = input(c.username, "SMTP user", { class: "w-name", placeholder: "you@example.com" });
  const from = input(c.from, "From", { class: "w-name", placeholder: "warden@example.com" });
  const to = input(c.to.join(", "), "To", { class: "w-path", placeholder: "you@example.com", "data-testid": "channel-to" });
  const reuse = h("input", { type: "checkbox", "data-testid": "channel-openalgo-smtp" });
  reuse.checked = c.openalgo_smtp;
  const summaryAt = input(c.summary_at, "Daily summary at", { class: "w-name", placeholder: "16:00+05:30", "data-testid": "channel-summary-at" });
  const boxes = EVENTS.map((e) => {
    const el = h("input", { type: "checkbox", value: e.value });
    el.checked = c.events.includes(e.value);
    return { e, el };
  });
  const result = h("span", { class: "muted small", "data-testid": "channel-test-result", "aria-live": "polite" });
  const extra =
    c.kind === "telegram" ? [h("label", null, "Chat id ", chat)]
    : c.kind === "ntfy" ? [h("label", null, "Topic ", topic)]
    : c.kind === "openalgo_telegram" ? [h("label", null, "OpenAlgo user ", user)]
    : c.kind === "email"
      ? [
          h("label", null, "User ", smtpUser),
          h("label", null, "From ", from),
          h("label", null, "To ", to),
          h("label", { class: "check", title: "Server, user, sender and password from OpenAlgo's SMTP settings (its password only if Warden can read OpenAlgo's .env)" }, reuse, " Use OpenAlgo's SMTP settings"),
        ]
      : [];
  const row: Row = {
    el: h("div"),
    collect: () => ({
      ...c,
      name: name.value.trim(),
      url: url.value.trim(),
      token: token.value.trim(),
      chat_id: chat.value.trim(),
      topic: topic.value.trim(),
      username: (c.kind === "email" ? smtpUser : user).value.trim(),
      to: to.value.split(",").map((t) => t.trim()).filter(Boolean),
      from: from.value.trim(),
      openalgo_smtp: c.kind === "email" && reuse.checked,
      summary_at: summaryAt.value.trim(),
      events: boxes.filter((b) => b.el.checked).map((b) => b.e.value),
    }),
  };
  const test = h(
    "button",
    {
      type: "button",
      class: "btn small",
      "data-testid": "channel-test",
      onclick: async () => {
        result.textContent = "Sending…";
        result.className = "muted small";
        try {
          result.textContent = await api.testAlert(row.collect());
          result.className = "ok-text small";
        } catch (e) {
          result.textContent = asError(e).message;
          result.className = "error-text small";
        }
      },
    },
    "Send a test",
  );
  row.el = h(
    "div",
    { class: "channel", "data-testid": "channel", "data-kind": c.kind },
    h("div", { class: "row" }, h("strong", null, kind.label), name, h("span", { class: "grow" }), test, h("button", { type: "button", class: "btn ghost small", onclick: () => remove(row) }, "Remove")),
    h("div", { class: "row wrap" }, h("label", null, "Address ", url), h("label", null, "Token ", token), ...extra),
    h("div", { class: "row wrap events" }, boxes.map((b) => h("label", { class: "check" }, b.el, " ", b.e.label)), h("label", null, "at ", summaryAt)),
    result,
  );
  return row;
}

/** The Settings card's body: the channels, and buttons to add one of each kind. */
export function channelsEditor(): { el: HTMLElement; fill(list: ChannelForm[]): void; collect(): ChannelForm[] } {
  const rows: Row[] = [];
  const list = h("div", { class: "channels" });
  const remove = (r: Row) => {
    rows.splice(rows.indexOf(r), 1);
    r.el.remove();
  };
  const add = (c: ChannelForm) => {
    const r = channelRow(c, remove);
    rows.push(r);
    list.appendChild(r.el);
  };
  const kind = h("select", { "aria-label": "Kind of channel", "data-testid": "channel-kind" }, KINDS.map((k) => h("option", { value: k.value }, k.label)));
  const el = h(
    "div",
    null,
    h("p", { class: "muted small" }, "Alerts on your phone when you are away from the desk. Tokens are saved in a file only you can read, and shown masked."),
    list,
    h(
      "div",
      { class: "row" },
      kind,
      h(
        "button",
        {
          type: "button",
          class: "btn ghost",
          "data-testid": "channel-add",
          onclick: () => add(blankChannel(kind.value as ChannelForm["kind"], rows.map((r) => r.collect().name))),
        },
        "+ Add a channel",
      ),
    ),
    h("div", { class: "field-error", "data-error-for": "alerts", role: "alert" }),
  );
  return {
    el,
    fill(channels) {
      rows.length = 0;
      replace(list);
      channels.forEach(add);
    },
    collect: () => rows.map((r) => r.collect()),
  };
}
