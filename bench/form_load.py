"""Settings under load (issue 25 item 9): five browser sessions fill the Train form at once, each with its own data,
method (one of them changing Method after the page derived a protocol for the first) and epochs, and press Start
right after the last entry, so that reruns interrupt each other; each stored run is then compared with what its
form showed just before the click (method, protocol, epochs). Each Method choice is followed at once (before its
rerun returns) by a Seed entry: a protocol that a callback derived from the Method would be overwritten by the
browser's stale value; ``protocol_as_derived`` counts the forms whose protocol is the one their data and method
start from.

    OMP_NUM_THREADS=1 nice -n 19 python -m bench.form_load [--sessions 5] [--json out.json]

Needs /usr/bin/chromium and the playwright package (never ``playwright install``). Prints one JSON record:
``sessions``, ``as_shown`` (runs whose method, protocol and epochs equal the form's), ``clicks_ignored`` (clicks on
a Start drawn for an older form: started nothing; the script clicks the new one), ``blocked`` (forms whose Start was
disabled by an invalid field, with its message), ``protocol_as_derived``,
``forms`` (what each form showed), ``mismatches`` (what differed), ``seconds``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.faults import ARGS, CHROMIUM, JOB_ID, App, settle, store_rows, wait_tray

#: (data, methods chosen in turn, epochs): the third changes Method after the page derived WALDO's protocol
_AE, _SVDD = "Autoencoder (reconstruction error)", "Deep SVDD (hypersphere)"
_WALDO = "WALDO (Wasserstein double autoencoder)"
CONFIGS = [("breast-cancer", [_AE], 3), ("breast-cancer", [_SVDD], 4), ("digits", [_WALDO, _AE], 5),
           ("breast-cancer", ["DROCC (adversarial one-class classifier)"], 2), ("breast-cancer", [_WALDO], 6),
           ("digits", [_SVDD], 3), ("breast-cancer", ["ALAD (adversarially learned anomaly detection)"], 2)]


def _choose(page, label: str, option: str) -> None:
    for attempt in range(6):  # a rerun may close the list between the two clicks: open it again
        page.get_by_test_id("stSelectbox").filter(has_text=label).first.click()
        try:
            page.get_by_role("option", name=option, exact=True).first.click(timeout=20_000)
            return
        except Exception:  # noqa: BLE001
            if attempt == 5:
                raise
            page.keyboard.press("Escape")


def _shown(page, titles: dict, protocols: list) -> dict:
    """What the form shows: the Method and Protocol selects' values and the epochs field's value."""
    def select_value(label: str, values) -> str | None:
        v = page.get_by_test_id("stSelectbox").filter(has_text=label).first.locator("input").first.input_value()
        return v if v in values else None

    return {"method": titles.get(select_value("Method", titles)), "protocol": select_value("Protocol", protocols),
            "epochs": int(page.get_by_label("epochs", exact=True).first.input_value())}


def main() -> None:
    from playwright.sync_api import sync_playwright

    import odcore.data
    from odcore.models import registry

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=5)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    configs = CONFIGS[:args.sessions]
    work = Path(tempfile.mkdtemp(prefix="form-load-"))
    app = App(work / "runs")
    app.start()
    t0 = time.perf_counter()
    shown: list[dict] = []
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            pages = []
            for _ in configs:
                pg = b.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                pg.set_default_timeout(180_000)
                pg.goto(f"{app.url}/train")
                pages.append(pg)
            for pg in pages:
                pg.get_by_role("heading", name="Train").first.wait_for()
                settle(pg)
            for pg, (data, _, _) in zip(pages, configs):  # every session reruns at once from here on
                _choose(pg, "Data", data)
            for step in range(max(len(m) for _, m, _ in configs)):
                for i, (pg, (_, methods, _)) in enumerate(zip(pages, configs)):
                    if step < len(methods):
                        settle(pg)
                        _choose(pg, "Method", methods[step])
                        seed = pg.get_by_label("Seed", exact=True)  # at once, before the Method's rerun returns
                        seed.fill(str(i + step))
                        seed.press("Enter")
            for pg, (_, _, epochs) in zip(pages, configs):
                box = pg.get_by_label("epochs", exact=True)
                for _ in range(10):  # a rerun may replace the field under the driver's hands: look again
                    while box.count() != 1:  # the new method's fields drawn, the old ones gone (as a person sees)
                        pg.wait_for_timeout(200)
                    settle(pg)
                    try:
                        box.first.fill(str(epochs), timeout=10_000)
                        box.first.press("Enter", timeout=10_000)  # a rerun ...
                        break
                    except Exception:  # noqa: BLE001
                        pass
            titles = {registry.info(m).title: m for m in registry.available()}
            blocked: dict = {}  # forms with an invalid field (Start disabled; a racing entry can land in another field)

            def click(i: int, pg) -> None:
                btn = pg.get_by_role("button", name="Start training").first
                if btn.is_enabled():
                    blocked.pop(i, None)
                    btn.click()
                else:
                    blocked[i] = pg.get_by_test_id("stAlertContentError").all_inner_texts()[:2]

            for i, pg in enumerate(pages):
                shown.append(_shown(pg, titles, list(odcore.data.PROTOCOLS)))
                click(i, pg)  # ... interrupted by the click
            ignored = 0  # clicks on a Start drawn for another form start nothing (ui/form.submit_key): click again
            for i, pg in enumerate(pages):
                settle(pg)
                if wait_tray(pg, lambda t: JOB_ID.search(t) is not None, timeout=30) is None:  # no job in its tray
                    ignored += 1
                    box = pg.get_by_label("epochs", exact=True)
                    while box.count() != 1:
                        pg.wait_for_timeout(200)
                    shown[i] = _shown(pg, titles, list(odcore.data.PROTOCOLS))
                    click(i, pg)
                    settle(pg)
            end = time.time() + 900
            while time.time() < end and sum(r["status"] in ("done", "failed") for r in store_rows(work / "runs")) \
                    < len(configs) - len(blocked):
                time.sleep(2)
            b.close()
    finally:
        app.stop()
    rows = store_rows(work / "runs")
    stored = []
    for r in rows:
        cfg = json.loads((work / "runs" / r["id"] / "config.json").read_text())
        stored.append({"method": cfg.get("method") or r.get("method"), "protocol": cfg.get("protocol"),
                       "epochs": (cfg.get("params") or {}).get("epochs"), "status": r["status"]})
    mismatches, ok = [], 0
    for i, want in enumerate(shown):
        if i in blocked:
            continue
        hit = [s for s in stored if all(s[k] == want[k] for k in ("method", "protocol", "epochs"))]
        if hit:
            ok += 1
            stored.remove(hit[0])
        else:
            mismatches.append({"shown": want})
    from odcore.runs.spec import default_protocol, working_protocol

    derived = 0  # the protocol each form showed is the one its data and method start from (not a stale one)
    for want, (data, _, _) in zip(shown, configs):
        if want["method"] is not None:
            first = working_protocol(odcore.data.load(data), want["method"], default_protocol(want["method"]), {})
            derived += first.protocol == want["protocol"]
    out = {"sessions": len(configs), "as_shown": ok, "clicks_ignored": ignored, "blocked": blocked,
           "protocol_as_derived": derived, "runs": len(rows), "forms": shown, "mismatches": mismatches,
           "unmatched_runs": stored,
           "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
