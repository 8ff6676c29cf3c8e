// Tauri runs the page with `freezePrototype: true`: the app must not write to Object.prototype.
import { startApp } from "../src/app";
import { byTestId, click, mockRust, reset } from "./fixtures";

beforeAll(() => {
  Object.freeze(Object.prototype);
});
afterAll(() => reset());

it("starts, lists bans and unbans with a frozen Object.prototype", async () => {
  const calls = mockRust({ unban_ip: () => 1 });
  const mount = document.createElement("div");
  document.body.appendChild(mount);
  const app = startApp(mount);
  await vi.waitFor(() => expect(byTestId("stat-total-bans")!.textContent).toBe("2"));
  for (const v of ["api", "404", "traffic", "ban", "settings", "audit", "bans"]) click(byTestId(`nav-${v}`));
  await vi.waitFor(() => expect(byTestId("bans-table")!.querySelectorAll("[data-ip]").length).toBe(2));
  click(byTestId("unban-203.0.113.7"));
  click(byTestId("confirm-ok"));
  await vi.waitFor(() => expect(calls.some((c) => c.cmd === "unban_ip")).toBe(true));
  expect(document.querySelector(".error-bar")!.textContent).toBe("");
  app.stop();
});
