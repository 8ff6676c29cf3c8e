import { ago, clock, expiresIn, hoursWords, localTime, timeEl, utc } from "../src/format";

// Built from local parts so the tests pass in any time zone.
const local = (y: number, mo: number, d: number, h: number, mi: number, s = 0) => new Date(y, mo - 1, d, h, mi, s);
const now = local(2026, 11, 22, 15, 0, 0);

describe("times", () => {
  it("RFC 3339 UTC without milliseconds", () => {
    expect(utc("2026-11-22T02:14:41Z")).toBe("2026-11-22T02:14:41Z");
    expect(utc("2026-11-22T02:14:41.000Z")).toBe("2026-11-22T02:14:41Z");
    expect(utc("2026-11-22T07:44:41+05:30")).toBe("2026-11-22T02:14:41Z");
    expect(utc(null)).toBe("");
    expect(utc("not a time")).toBe("");
  });

  it("local time: clock only today, date and minutes otherwise", () => {
    expect(localTime(local(2026, 11, 22, 14, 3, 12).toISOString(), now)).toBe("14:03:12");
    expect(localTime(local(2026, 11, 21, 9, 5, 59).toISOString(), now)).toBe("2026-11-21 09:05");
    expect(localTime(null, now)).toBe("—");
    expect(clock(local(2026, 11, 22, 7, 4).toISOString())).toBe("07:04");
  });

  it("a <time> element shows local time, with the UTC instant on hover", () => {
    const t = local(2026, 11, 22, 14, 3, 12);
    const el = timeEl(t.toISOString(), now);
    expect(el.tagName).toBe("TIME");
    expect(el.textContent).toBe("14:03:12");
    expect(el.getAttribute("title")).toBe(t.toISOString().replace(".000Z", "Z"));
    expect(el.getAttribute("title")).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(el.getAttribute("datetime")).toBe(el.getAttribute("title"));
    expect(timeEl(null).textContent).toBe("—");
  });

  it("relative expiry", () => {
    const at = (ms: number) => new Date(now.getTime() + ms).toISOString();
    expect(expiresIn(at(23 * 3600_000 + 20 * 60_000), now)).toBe("in 23 h");
    expect(expiresIn(at(24 * 3600_000 - 1000), now)).toBe("in 24 h");
    expect(expiresIn(at(5 * 60_000 - 500), now)).toBe("in 5 min");
    expect(expiresIn(at(30_000), now)).toBe("in under a minute");
    expect(expiresIn(at(7 * 86_400_000), now)).toBe("in 7 d");
    expect(expiresIn(at(-1000), now)).toBe("expired");
    expect(ago(at(-3 * 3600_000), now)).toBe("3 h ago");
    expect(ago(at(-10_000), now)).toBe("just now");
  });

  it("ban hours in words", () => {
    expect(hoursWords(0)).toBe("permanent");
    expect(hoursWords(24)).toBe("24 h");
    expect(hoursWords(168)).toBe("7 days");
    expect(hoursWords(null)).toBe("—");
  });
});
