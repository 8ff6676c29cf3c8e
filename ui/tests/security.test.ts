// The CSP and XSS rules, checked on the source itself.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { h } from "../src/dom";
import { VirtualTable } from "../src/components/table";

const UI = join(__dirname, "..");
const SRC = join(UI, "src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

const sources = files(SRC).filter((f) => /\.(ts|js|html|css)$/.test(f));

describe("source rules", () => {
  it("finds the sources", () => {
    expect(sources.length).toBeGreaterThan(10);
  });

  it("never parses HTML or evaluates code", () => {
    const banned = /innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\s*\(|new Function\s*\(|createContextualFragment|DOMParser/;
    const hits = sources.filter((f) => banned.test(readFileSync(f, "utf8"))).map((f) => relative(UI, f));
    expect(hits).toEqual([]);
  });

  it("calls invoke( only in ipc.ts", () => {
    const hits = sources
      .filter((f) => !f.endsWith(join("src", "ipc.ts")))
      .filter((f) => readFileSync(f, "utf8").includes("invoke("))
      .map((f) => relative(UI, f));
    expect(hits).toEqual([]);
  });

  it("sets no inline style attribute", () => {
    const inline = /style\s*=\s*["']|setAttribute\(\s*["']style["']|\bstyle:\s*["'{]|cssText/;
    const hits = sources.filter((f) => inline.test(readFileSync(f, "utf8"))).map((f) => relative(UI, f));
    expect(hits).toEqual([]);
  });

  it("index.html has no inline script or style", () => {
    const html = readFileSync(join(UI, "index.html"), "utf8");
    expect(html).not.toMatch(/style\s*=|<style/i);
    for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
      expect(m[1]).toMatch(/\bsrc=/);
      expect(m[2].trim()).toBe("");
    }
    expect(html).not.toMatch(/\son[a-z]+\s*=/i);
  });
});

describe("attacker-controlled text", () => {
  const payload = `<img src=x onerror=alert(1)>`;

  it("h() makes strings text, never elements", () => {
    const el = h("div", null, payload, h("span", null, `<script>alert(2)</script>`));
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector("script")).toBeNull();
    expect(el.textContent).toBe(`${payload}<script>alert(2)</script>`);
  });

  it("h() refuses inline styles and string event handlers", () => {
    expect(() => h("div", { style: "color:red" })).toThrow();
    expect(() => h("div", { onclick: "alert(1)" })).toThrow();
  });

  it("a table cell shows the payload literally", () => {
    type Row = { ip: string; path: string };
    const t = new VirtualTable<Row>({
      testId: "xss",
      columns: [
        { key: "ip", title: "IP", width: "100px", value: (r) => r.ip },
        { key: "path", title: "Path", width: "1fr", value: (r) => r.path },
      ],
      rowAttrs: (r) => ({ "data-ip": r.ip }),
    });
    document.body.appendChild(t.el);
    t.setRows([{ ip: payload, path: `/"><svg onload=alert(1)>` }]);
    expect(t.el.querySelector("img")).toBeNull();
    expect(t.el.querySelector("svg")).toBeNull();
    const cells = [...t.el.querySelectorAll(".vt-window .vt-cell")].map((c) => c.textContent);
    expect(cells).toEqual([payload, `/"><svg onload=alert(1)>`]);
    expect(t.el.querySelector(".vt-window .vt-row")!.getAttribute("data-ip")).toBe(payload);
    t.el.remove();
  });
});
