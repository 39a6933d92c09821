#!/usr/bin/env python3
"""Writes the committed seed corpus, fuzz/seeds/<target>/, from the synthetic generator:
`volfit synth` (Deribit book-summary CSV) re-laid as every other input format, the
project's example configs, and one value per CLI flag parser. Small on purpose (a few rows
per file); the fuzzer finds the rest. Run from the repository root after
`cargo build --release -p volfit-cli`:  python3 fuzz/make_seeds.py
"""
import csv, glob, gzip, io, json, os, subprocess, sys
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = os.path.join(ROOT, "fuzz", "seeds")
VOLFIT = os.path.join(ROOT, "target", "release", "volfit")


def seed(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def ms(iso):
    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def csv_text(header, rows):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue()


text = subprocess.run([VOLFIT, "synth", "--out", "-"], check=True, capture_output=True).stdout.decode()
lines = text.splitlines()
header, body = lines[0], lines[1:]
rows = list(csv.DictReader(io.StringIO("\n".join([header] + body[:: max(1, len(body) // 12)][:12]))))
summary = "\n".join([header] + [",".join(r.values()) for r in rows]) + "\n"
for t in ["deribit_summary", "read_any"]:
    seed(t, "seed-summary.csv", summary)
seed("read_any", "seed-summary.csv.gz", gzip.compress(summary.encode(), mtime=0))

book = [["timestamp", "instrument_name", "option_type", "strike", "expiration_timestamp",
         "underlying_price", "best_bid_price", "best_ask_price", "best_bid_amount",
         "best_ask_amount", "mark_price", "mark_iv", "index_price", "open_interest", "stats"]]
dx = [["quote_unixtime", "instrument_name", "base_currency", "underlying_price", "expiry_unix",
       "option_right", "strike", "bid_price", "ask_price", "bid_size", "ask_size",
       "open_interest", "volume", "mark_iv"]]
tardis = [["exchange", "symbol", "timestamp", "local_timestamp", "type", "strike_price",
           "expiration", "open_interest", "last_price", "bid_price", "bid_amount", "bid_iv",
           "ask_price", "ask_amount", "ask_iv", "mark_price", "mark_iv", "underlying_index",
           "underlying_price", "delta", "gamma", "vega", "theta", "rho"]]
items, perps = [], [["snapshot_file", "snapshot_timestamp_ms", "coin", "instrument_name",
                     "perp_futures_mark_price"]]
for i, r in enumerate(rows):
    t, exp = ms(r["timestamp"]), ms(r["expiry_datetime"])
    iv = float(r["implied_volatility"]) * 100
    book.append([t, r["instrument_name"], r["option_type"], r["strike"], exp, r["futures_price"],
                 r["bid_price"], r["ask_price"], 1, 1, r["mark_price"], iv, r["index_price"],
                 r["open_interest"], "{'volume': 1.0, 'high': None}"])
    dx.append([t // 1000, r["instrument_name"], r["currency"], r["futures_price"], exp // 1000,
               r["option_type"], r["strike"], r["bid_price"], r["ask_price"], 1, 1,
               r["open_interest"], r["volume"], iv])
    tardis.append(["deribit", r["instrument_name"], t * 1000 + i, t * 1000 + i + 5,
                   r["option_type"], r["strike"], exp * 1000, r["open_interest"], "",
                   r["bid_price"], 1, iv, r["ask_price"], 1, iv, r["mark_price"], iv,
                   r["underlying_name"], r["futures_price"], r["delta"], "", r["vega"], "", ""])
    items.append({"instrument_name": r["instrument_name"],
                  "bid_price": float(r["bid_price"]) if r["bid_price"] else None,
                  "ask_price": float(r["ask_price"]) if r["ask_price"] else None,
                  "mark_price": float(r["mark_price"]), "mark_iv": iv,
                  "underlying_price": float(r["futures_price"]),
                  "open_interest": float(r["open_interest"]), "creation_timestamp": t})
    perps.append(["synth.csv", t, r["currency"], r["currency"] + "-PERPETUAL", r["index_price"]])
seed("deribit_book", "seed-book.csv", csv_text(book[0], book[1:]))
seed("optionsdx", "seed-optionsdx.csv", csv_text(dx[0], dx[1:]))
seed("tardis", "seed-tardis.csv", csv_text(tardis[0], tardis[1:]))
doc = json.dumps({"result": items, "usOut": rows[0] and ms(rows[0]["timestamp"]) * 1000})
seed("deribit_json", "seed-summary.json", doc)
seed("perpetuals", "seed-perpetuals.csv", csv_text(perps[0], perps[1:]))


def web_csv(rows):
    """The Deribit website export (`--format deribit-web`): no time, `-` for an empty side."""
    head = ["Instrument", "Open", "Size", "Bid", "IV Bid", "Mark", "IV Ask", "Ask", "Size", "Last", "Delta"]
    side = lambda v: v if v else "-"
    iv = lambda r: round(float(r["implied_volatility"]) * 100, 1)
    return csv_text(head, [[r["instrument_name"], r["open_interest"], 1.5, side(r["bid_price"]),
                            iv(r) if r["bid_price"] else "-", r["mark_price"],
                            iv(r) if r["ask_price"] else "-", side(r["ask_price"]), 2.0, "-",
                            r["delta"]] for r in rows if r["currency"] == rows[0]["currency"]])


seed("deribit_web", "seed-web.csv", web_csv(rows))
with open(os.path.join(ROOT, "crates", "volfit", "tests", "data", "deribit_web_export.csv"), "rb") as f:
    seed("deribit_web", "seed-export.csv", f.read())
for t, name, data in [("read_any", "seed-book.csv", csv_text(book[0], book[1:])),
                      ("read_any", "seed-optionsdx.csv", csv_text(dx[0], dx[1:])),
                      ("read_any", "seed-tardis.csv", csv_text(tardis[0], tardis[1:])),
                      ("read_any", "seed-summary.json", doc)]:
    seed(t, name, data)
spec = "instrument=Name,time=Time,bid=Bid,ask=Ask,forward=Fwd,mark_iv=IV"
mapped = csv_text(["Name", "Time", "Bid", "Ask", "Fwd", "IV"],
                  [[r["instrument_name"], ms(r["timestamp"]), r["bid_price"], r["ask_price"],
                    r["futures_price"], float(r["implied_volatility"]) * 100] for r in rows])
seed("mapped", "seed-mapped.csv", spec + "\n" + mapped)

fit_toml = 'model = "svi"\nloss = "huber:0.01"\nweight = "vega*spread"\nridge = "0.001:prev"\n' \
    'starts = 2\n[filter]\nmax_std_moneyness = 4.0\nmin_quotes = 6\n'
seed("toml_configs", "seed-fit.toml", b"\x00" + fit_toml.encode())
seed("toml_configs", "seed-grid.toml", b"\x02" + b'models = ["svi", "ssvi"]\nhorizon = 1\nfolds = 3\n')
for i, path in enumerate(sorted(glob.glob(os.path.join(ROOT, "examples", "**", "*.toml"), recursive=True))):
    pick = b"\x03" if "book" in os.path.basename(path) or "candidates" in os.path.basename(path) else b"\x01"
    with open(path, "rb") as f:
        seed("toml_configs", f"seed-example-{i}.toml", pick + f.read())
for i, (pick, value) in enumerate([
        (0, "huber:0.01"), (0, "tolerant:0.01:0.02"), (1, "vega*spread"), (2, "band"),
        (3, "0.001:zero"), (4, "essvi"), (5, "nelder-mead"), (6, "smile"), (7, "es:0.975"),
        (8, "mean"), (9, "instrument=Name,time=Time,bid=Bid"), (10, "2026-01-05T12:00:00Z")]):
    seed("flag_parsers", f"seed-{i}", bytes([pick]) + value.encode())
print("seeds in", SEEDS, file=sys.stderr)
