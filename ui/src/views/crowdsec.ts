// The CrowdSec card in Settings: share bans with other servers through one Local API, with a Test
// button that tries the connection as typed.

import { h } from "../dom";
import { api, asError, type CrowdsecForm } from "../ipc";

export function crowdsecEditor(): { el: HTMLElement; fill(c: CrowdsecForm): void; collect(): CrowdsecForm } {
  const text = (label: string, testid: string, placeholder = "") =>
    h("input", { type: "text", class: "w-path", "aria-label": label, "data-testid": testid, placeholder, spellcheck: "false" });
  const check = (testid: string) => h("input", { type: "checkbox", "data-testid": testid });
  const enabled = check("crowdsec-enabled");
  const url = text("LAPI address", "crowdsec-url", "https://lapi.example.com:8080");
  const creds = text("Machine credentials file", "crowdsec-credentials", "/etc/warden/lapi.yaml");
  const key = text("Bouncer key file", "crowdsec-key", "/etc/warden/bouncer.key");
  const push = check("crowdsec-push");
  const pull = check("crowdsec-pull");
  const seconds = h("input", { type: "text", inputmode: "numeric", class: "w-num", "aria-label": "Pull every (seconds)", "data-testid": "crowdsec-seconds" });
  const origins = text("Origins", "crowdsec-origins", "all");
  const result = h("span", { class: "muted small", "data-testid": "crowdsec-test-result", "aria-live": "polite" });
  let base: CrowdsecForm | null = null;
  const collect = (): CrowdsecForm => ({
    ...(base as CrowdsecForm),
    enabled: enabled.checked,
    url: url.value.trim(),
    credentials: creds.value.trim(),
    bouncer_key_file: key.value.trim(),
    push: push.checked,
    pull: pull.checked,
    pull_seconds: Number(seconds.value.trim()) || 10,
    origins: origins.value.split(",").map((o) => o.trim()).filter(Boolean),
  });
  const test = h(
    "button",
    {
      type: "button",
      class: "btn small",
      "data-testid": "crowdsec-test",
      onclick: async () => {
        result.textContent = "Trying…";
        result.className = "muted small";
        try {
          result.textContent = await api.testCrowdsec(collect());
          result.className = "ok-text small";
        } catch (e) {
          result.textContent = asError(e).message;
          result.className = "error-text small";
        }
      },
    },
    "Test",
  );
  const el = h(
    "div",
    { class: "channel" },
    h("p", { class: "muted small" }, "Several servers? A ban on one is refused on all of them through CrowdSec's Local API. The files come from cscli on the LAPI's host; see the README."),
    h("label", { class: "check" }, enabled, " Share bans through CrowdSec"),
    h("div", { class: "row wrap" }, h("label", null, "LAPI ", url), h("span", { class: "grow" }), test),
    h("div", { class: "row wrap" }, h("label", null, "Machine credentials ", creds), h("label", null, "Bouncer key ", key)),
    h(
      "div",
      { class: "row wrap events" },
      h("label", { class: "check" }, push, " Send my bans"),
      h("label", { class: "check" }, pull, " Enforce the others'"),
      h("label", null, "every ", seconds, " s"),
      h("label", null, "origins ", origins),
    ),
    result,
    h("div", { class: "field-error", "data-error-for": "crowdsec", role: "alert" }),
  );
  return {
    el,
    fill(c) {
      base = c;
      enabled.checked = c.enabled;
      url.value = c.url;
      creds.value = c.credentials;
      key.value = c.bouncer_key_file;
      push.checked = c.push;
      pull.checked = c.pull;
      seconds.value = String(c.pull_seconds);
      origins.value = c.origins.join(", ");
    },
    collect,
  };
}
