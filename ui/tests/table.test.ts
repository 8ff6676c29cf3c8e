import { compareValues, filterRows, minWidth, sortRows, VirtualTable, windowRange, type Column } from "../src/components/table";

describe("windowRange", () => {
  it("covers the viewport plus overscan at the top", () => {
    expect(windowRange(0, 360, 36, 100_000, 5)).toEqual({ start: 0, end: 15 });
  });
  it("moves with the scroll position", () => {
    // Rows 100..110 are in view at 3600 px; 5 above and below are kept.
    expect(windowRange(3600, 360, 36, 100_000, 5)).toEqual({ start: 95, end: 115 });
  });
  it("handles a partially visible row", () => {
    expect(windowRange(3610, 360, 36, 100_000, 0)).toEqual({ start: 100, end: 111 });
  });
  it("clamps at the end", () => {
    expect(windowRange(36 * 99_990, 360, 36, 100_000, 5)).toEqual({ start: 99_985, end: 100_000 });
    expect(windowRange(1e9, 360, 36, 10, 5)).toEqual({ start: 10, end: 10 });
  });
  it("is empty with no rows and safe with odd input", () => {
    expect(windowRange(0, 500, 36, 0, 5)).toEqual({ start: 0, end: 0 });
    expect(windowRange(-50, 100, 36, 3, 0)).toEqual({ start: 0, end: 3 });
    expect(windowRange(0, 100, 0, 3, 0)).toEqual({ start: 0, end: 0 });
  });
});

type Row = { ip: string; n: number | null; ua: string };
const cols: Column<Row>[] = [
  { key: "ip", title: "IP", width: "140px", value: (r) => r.ip },
  { key: "n", title: "N", width: "minmax(80px, 1fr)", value: (r) => r.n },
  { key: "ua", title: "UA", width: "2fr", value: (r) => r.ua },
  { key: "act", title: "", width: "90px" },
];
const rows: Row[] = [
  { ip: "10.0.0.10", n: 5, ua: "curl/8.0" },
  { ip: "10.0.0.9", n: null, ua: "Mozilla Firefox" },
  { ip: "192.168.1.1", n: 20, ua: "python-requests" },
  { ip: "10.0.0.2", n: 5, ua: "Mozilla Chrome" },
];

describe("sort and filter", () => {
  it("compares numbers, natural text, nulls last", () => {
    expect(compareValues(2, 10)).toBeLessThan(0);
    expect(compareValues("10.0.0.9", "10.0.0.10")).toBeLessThan(0);
    expect(compareValues(null, 1)).toBeGreaterThan(0);
    expect(compareValues("", "a")).toBeGreaterThan(0);
  });
  it("sorts both ways, stable, nulls always last", () => {
    expect(sortRows(rows, cols[0], "asc").map((r) => r.ip)).toEqual(["10.0.0.2", "10.0.0.9", "10.0.0.10", "192.168.1.1"]);
    expect(sortRows(rows, cols[1], "asc").map((r) => r.ip)).toEqual(["10.0.0.10", "10.0.0.2", "192.168.1.1", "10.0.0.9"]);
    expect(sortRows(rows, cols[1], "desc").map((r) => r.ip)).toEqual(["192.168.1.1", "10.0.0.10", "10.0.0.2", "10.0.0.9"]);
    expect(rows[0].ip).toBe("10.0.0.10"); // the input is not changed
  });
  it("filters case-insensitively; every word must match somewhere", () => {
    expect(filterRows(rows, cols, "mozilla").map((r) => r.ip)).toEqual(["10.0.0.9", "10.0.0.2"]);
    expect(filterRows(rows, cols, "MOZILLA chrome").map((r) => r.ip)).toEqual(["10.0.0.2"]);
    expect(filterRows(rows, cols, "10.0.0").length).toBe(3);
    expect(filterRows(rows, cols, "  ").length).toBe(4);
    expect(filterRows(rows, cols, "nothing-like-this")).toEqual([]);
  });
  it("adds up the minimum widths", () => {
    expect(minWidth(cols)).toBe(140 + 80 + 60 + 90);
  });
});

describe("VirtualTable", () => {
  const big = Array.from({ length: 100_000 }, (_, i) => ({ ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, n: i, ua: `ua ${i}` }));

  function mount(data: Row[]) {
    const t = new VirtualTable<Row>({ columns: cols, testId: "t", rowHeight: 30, overscan: 4, height: 300, rowAttrs: (r) => ({ "data-ip": r.ip }) });
    document.body.appendChild(t.el);
    t.setRows(data);
    return t;
  }
  const domRows = (t: VirtualTable<Row>) => [...t.el.querySelectorAll<HTMLElement>(".vt-window .vt-row")];

  afterEach(() => document.body.replaceChildren());

  it("renders the rows in view at once, without a scroll event", () => {
    const t = mount(rows);
    expect(domRows(t).map((r) => r.dataset.ip)).toEqual(rows.map((r) => r.ip));
  });

  it("keeps only a window of 100 000 rows in the DOM, with a spacer for the rest", () => {
    const t = mount(big);
    expect(domRows(t).length).toBe(10 + 4);
    const spacer = t.el.querySelector<HTMLElement>(".vt-spacer")!;
    expect(spacer.style.height).toBe(`${100_000 * 30}px`);
  });

  it("renders the new window after scrolling", async () => {
    const t = mount(big);
    const vp = t.el.querySelector<HTMLElement>(".vt-viewport")!;
    vp.scrollTop = 30 * 5000;
    t.render();
    const got = domRows(t);
    expect(got[0].dataset.ip).toBe(big[4996].ip);
    expect(got.length).toBe(4 + 10 + 4);
    expect(t.el.querySelector<HTMLElement>(".vt-window")!.style.transform).toBe(`translateY(${4996 * 30}px)`);
  });

  it("sorts on header click, and again the other way", () => {
    const t = mount(rows);
    const btn = t.el.querySelector<HTMLButtonElement>('[data-sort="ip"]')!;
    btn.click();
    expect(domRows(t).map((r) => r.dataset.ip)).toEqual(["10.0.0.2", "10.0.0.9", "10.0.0.10", "192.168.1.1"]);
    expect(btn.parentElement!.getAttribute("aria-sort")).toBe("ascending");
    t.el.querySelector<HTMLButtonElement>('[data-sort="ip"]')!.click();
    expect(domRows(t)[0].dataset.ip).toBe("192.168.1.1");
    expect(t.el.querySelector('[data-sort="act"]')).toBeNull(); // no value, not sortable
  });

  it("filters, keeps sort and filter across new data, and says when nothing matches", () => {
    const t = mount(rows);
    t.setSort("n", "desc");
    t.setQuery("mozilla");
    expect(domRows(t).map((r) => r.dataset.ip)).toEqual(["10.0.0.2", "10.0.0.9"]);
    t.setRows([...rows, { ip: "10.9.9.9", n: 99, ua: "Mozilla Safari" }]);
    expect(domRows(t).map((r) => r.dataset.ip)).toEqual(["10.9.9.9", "10.0.0.2", "10.0.0.9"]);
    expect(t.el.querySelector(".vt-count")!.textContent).toBe("3 of 5");
    t.setQuery("zzz");
    expect(domRows(t)).toEqual([]);
    expect(t.el.querySelector<HTMLElement>(".vt-empty")!.hidden).toBe(false);
  });

  it("filters from the filter box", async () => {
    const t = mount(rows);
    t.filterInput.value = "python";
    t.filterInput.dispatchEvent(new Event("input"));
    await vi.waitFor(() => expect(domRows(t).map((r) => r.dataset.ip)).toEqual(["192.168.1.1"]));
  });

  it("keeps the scroll position when the data is refreshed", () => {
    const t = mount(big);
    const vp = t.el.querySelector<HTMLElement>(".vt-viewport")!;
    vp.scrollTop = 30 * 200;
    t.setRows(big.slice());
    expect(vp.scrollTop).toBe(30 * 200);
    expect(domRows(t)[0].dataset.ip).toBe(big[196].ip);
  });
});
