"""Turns the raw results into ratios against direct, the pass/fail lines of issues 6 and 16, a table, CSV, JSON and a
plot."""
import csv
import json
import os
import shutil
import subprocess
import sys

FORWARDER_ROLES = ("hcbridge -L", "hcbridge -T", "node -L", "node -T")


def ends_cpu(chain_result, key):
    """CPU s/GiB of the two forwarding ends together (the relay is common to both peers and reported on its own)."""
    cpu = (chain_result.get(key) or {}).get("cpu_s_per_gib") or {}
    ends = [v for role, v in cpu.items() if role in FORWARDER_ROLES]
    return sum(ends) if ends else None


def get(results, chain, *path):
    value = results["chains"].get(chain, {})
    for p in path:
        if not isinstance(value, dict) or p not in value:
            return None
        value = value[p]
    return value


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def derive(results):
    """Adds, per chain: throughput as a fraction of direct, latency added over direct, CPU of the two ends."""
    for name, r in results["chains"].items():
        d = {}
        for key in ("single", "parallel"):
            d[f"{key}_vs_direct"] = ratio(get(results, name, key, "mb_per_s"), get(results, "direct", key, "mb_per_s"))
            d[f"{key}_ends_cpu_s_per_gib"] = ends_cpu(r, key)
        for p in ("p50_us", "p99_us"):
            # Against the direct latency measured just before this chain's (run.py), else the direct chain's own.
            base = get(results, name, "latency_direct", p)
            if base is None:
                base = get(results, "direct", "latency", p)
            mine = get(results, name, "latency", p)
            d[f"added_{p}"] = mine - base if mine is not None and base is not None else None
        r["derived"] = d


def targets(results):
    """(target, measured text, pass: True/False/None when not measured) for each target of issue 6."""
    out = []

    def line(text, value, ok, fmt="{:.3g}"):
        shown = "not measured" if value is None else (fmt.format(value) if not isinstance(value, str) else value)
        out.append({"target": text, "measured": shown, "pass": None if value is None else bool(ok)})

    d = lambda chain, k: get(results, chain, "derived", k)
    v = d("hcbridge-ws", "single_vs_direct")
    line("hcbridge ws:// single stream >= 50% of direct", v, v is not None and v >= 0.50, "{:.0%}")
    v = d("hcbridge-tls", "single_vs_direct")
    line("hcbridge TLS single stream >= 35% of direct", v, v is not None and v >= 0.35, "{:.0%}")
    for t in ("ws", "tls"):
        ours, node = d(f"hcbridge-{t}", "single_ends_cpu_s_per_gib"), d(f"node-{t}", "single_ends_cpu_s_per_gib")
        v = ratio(ours, node)
        line(f"CPU per GiB of both hcbridge ends <= 1/3 of the Node peer's ({t})", v, v is not None and v <= 1 / 3,
             "{:.2f}x")
        v = ratio(get(results, f"hcbridge-{t}", "single", "mb_per_s"), get(results, f"node-{t}", "single", "mb_per_s"))
        line(f"single-stream throughput >= 3x the Node peer's ({t})", v, v is not None and v >= 3, "{:.2f}x")
    for t in ("ws", "tls"):
        v = d(f"hcbridge-{t}", "added_p50_us")
        line(f"added latency p50 <= 100 us over direct ({t})", v, v is not None and v <= 100, "{:.0f} us")
        v = d(f"hcbridge-{t}", "added_p99_us")
        line(f"added latency p99 <= 500 us over direct ({t})", v, v is not None and v <= 500, "{:.0f} us")
    mem = results.get("memory", {}).get("hcbridge-ws")
    if mem:
        for role in ("hcbridge -L", "hcbridge -T"):
            v = mem["baseline_kib"].get(role)
            line(f"idle {role} baseline RSS <= 8 MiB", None if v is None else v / 1024, v is not None and v <= 8192,
                 "{:.1f} MiB")
        for run in mem["runs"]:
            for role in ("hcbridge -L", "hcbridge -T"):
                v = run.get("kib_per_tunnel", {}).get(role)
                line(f"{role} <= 24 KiB per idle tunnel at {run['requested']} tunnels", v, v is not None and v <= 24,
                     "{:.1f} KiB")
        biggest = max(mem["runs"], key=lambda r: r["requested"])
        opened = biggest.get("open", 0)
        # Each end and the relay hold 2 descriptors per tunnel: the descriptor limit is part of the answer.
        line("10,000 concurrent tunnels through one pair",
             f"{opened} of {biggest['requested']} open (RLIMIT_NOFILE {results['meta']['nofile']})",
             biggest["requested"] >= 10000 and opened >= 10000)
    else:
        line("idle baseline RSS, per-tunnel RSS, 10,000 tunnels", None, False)
    for t in ("ws", "tls"):
        v = get(results, f"hcbridge-{t}", "setup", "per_second")
        line(f">= 2,000 tunnel set-ups/s through one pair ({t})", v, v is not None and v >= 2000, "{:.0f}/s")
    return out


def tls_targets(results):
    """The targets of issue 16 (the TLS data path), each from this run's chains only."""
    out = []

    def line(text, value, ok, fmt):
        shown = "not measured" if value is None else fmt.format(value)
        out.append({"target": text, "measured": shown, "pass": None if value is None else bool(ok)})

    relay_cpu = lambda chain: get(results, chain, "single", "cpu_s_per_gib", "hcrelay")
    d = lambda chain, k: get(results, chain, "derived", k)
    v = relay_cpu("relay-tls")
    line("relay TLS <= 1.5 CPU s/GiB (relay-tls, one stream)", v, v is not None and v <= 1.5, "{:.2f}")
    v = d("hcbridge-tls", "single_ends_cpu_s_per_gib")
    line("both hcbridge ends over TLS <= 2.2 CPU s/GiB (one stream)", v, v is not None and v <= 2.2, "{:.2f}")
    # TLS overhead per AES-GCM operation: the TLS path's cost minus the same path's ws:// cost, over the operations
    # it does per byte (the relay decrypts and encrypts every byte: 2; each daemon end: 1, so the pair: 2).
    for what, tls, ws in (("relay", relay_cpu("relay-tls"), relay_cpu("relay-ws")),
                          ("hcbridge pair", d("hcbridge-tls", "single_ends_cpu_s_per_gib"),
                           d("hcbridge-ws", "single_ends_cpu_s_per_gib"))):
        v = None if tls is None or ws is None else (tls - ws) / 2
        line(f"TLS overhead of the {what} <= 0.35 CPU s/GiB per crypto operation", v, v is not None and v <= 0.35,
             "{:.2f}")
    for tls, ws, want in (("relay-tls", "relay-ws", 0.60), ("hcbridge-tls", "hcbridge-ws", 0.65)):
        v = ratio(get(results, tls, "single", "mb_per_s"), get(results, ws, "single", "mb_per_s"))
        line(f"{tls} single stream >= {want:.0%} of {ws}", v, v is not None and v >= want, "{:.0%}")
    for t, limit in (("ws", 100), ("tls", 130)):
        v = d(f"hcbridge-{t}", "added_p50_us")
        line(f"added latency p50 <= {limit} us over direct ({t})", v, v is not None and v <= limit, "{:.0f} us")
    for t in ("ws", "tls"):
        v = ratio(get(results, f"hcbridge-{t}", "parallel", "mb_per_s"), get(results, f"hcbridge-{t}", "single", "mb_per_s"))
        line(f"hcbridge-{t}: 16 streams in aggregate >= one stream", v, v is not None and v >= 1.0, "{:.2f}x")
    return out


def fmt(value, spec="{:.0f}"):
    return "-" if value is None else spec.format(value)


def main_rows(results):
    rows = []
    for name, r in results["chains"].items():
        d = r.get("derived", {})
        relay_cpu = (r.get("single") or {}).get("cpu_s_per_gib", {}).get("hcrelay")
        rows.append({
            "chain": name,
            "single MB/s": fmt(get(results, name, "single", "mb_per_s")),
            "vs direct": fmt(d.get("single_vs_direct"), "{:.0%}"),
            "16 streams MB/s": fmt(get(results, name, "parallel", "mb_per_s")),
            "16 vs direct": fmt(d.get("parallel_vs_direct"), "{:.0%}"),
            "ends CPU s/GiB": fmt(d.get("single_ends_cpu_s_per_gib"), "{:.2f}"),
            "relay CPU s/GiB": fmt(relay_cpu, "{:.2f}"),
            "p50 us": fmt(get(results, name, "latency", "p50_us")),
            "p99 us": fmt(get(results, name, "latency", "p99_us")),
            "direct p50/p99 us": "-" if not r.get("latency_direct") else
            f"{r['latency_direct']['p50_us']:.0f}/{r['latency_direct']['p99_us']:.0f}",
            "+p50 us": fmt(d.get("added_p50_us")),
            "+p99 us": fmt(d.get("added_p99_us")),
            "setups/s": fmt(get(results, name, "setup", "per_second")),
            "setup p99 ms": fmt(None if get(results, name, "setup", "p99_us") is None
                                else get(results, name, "setup", "p99_us") / 1000, "{:.1f}"),
        })
    return rows


def app_rows(results):
    """One row per real-application test: direct, through the TLS tunnel, the fraction, the tunnel's CPU."""
    rows = []
    for app, r in results.get("apps", {}).items():
        for t in r.get("tests", []):
            direct, tunnel = t.get("direct") or {}, t.get("tunnel") or {}
            cpu = tunnel.get("cpu_s_per_gib") or {}
            ends = [v for role, v in cpu.items() if role in FORWARDER_ROLES]
            p50 = (direct.get("p50_us"), tunnel.get("p50_us"))
            rows.append({
                "application": t["test"], "unit": t["unit"],
                "direct": fmt(direct.get("value")), "TLS tunnel": fmt(tunnel.get("value")),
                "vs direct": fmt(ratio(tunnel.get("value"), direct.get("value")), "{:.0%}"),
                "ends CPU s/GiB": fmt(sum(ends) if ends else None, "{:.2f}"),
                "relay CPU s/GiB": fmt(cpu.get("hcrelay"), "{:.2f}"),
                "p50 us direct/tunnel": "-" if None in p50 else f"{p50[0]:.0f}/{p50[1]:.0f}",
                "+p50 us": fmt(None if None in p50 else p50[1] - p50[0]),
            })
            loss = (direct.get("loss_percent"), tunnel.get("loss_percent"))
            if loss != (None, None):
                rows[-1]["loss % direct/tunnel"] = "/".join(fmt(v, "{:.1f}") for v in loss)
    return rows


def cpu_rows(results):
    rows = []
    for name, r in results["chains"].items():
        for key, label in (("single", "1 stream"), ("parallel", "16 streams")):
            for role, v in ((r.get(key) or {}).get("cpu_s_per_gib") or {}).items():
                rows.append({"chain": name, "load": label, "process": role, "CPU s/GiB": fmt(v, "{:.2f}")})
    return rows


def memory_rows(results):
    rows = []
    for name, m in results.get("memory", {}).items():
        if "error" in m:
            rows.append({"chain": name, "process": "-", "baseline MiB": "-", "error": m["error"]})
            continue
        for role, base in m["baseline_kib"].items():
            private = m.get("baseline_private_kib", {}).get(role)
            row = {"chain": name, "process": role, "baseline MiB": fmt(base / 1024, "{:.1f}"),
                   "of it private MiB": fmt(None if private is None else private / 1024, "{:.1f}")}
            for run in m["runs"]:
                n = run["requested"]
                row[f"KiB/tunnel @{n}"] = fmt(run.get("kib_per_tunnel", {}).get(role), "{:.1f}")
                row[f"open @{n}"] = f"{run.get('open', 0)}/{n}"
            rows.append(row)
    return rows


def table(rows):
    """A Markdown table (readable on a terminal too)."""
    if not rows:
        return "(no rows)\n"
    cols = []
    for r in rows:
        cols += [c for c in r if c not in cols]
    width = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
    line = lambda cells: "| " + " | ".join(str(cells.get(c, "")).ljust(width[c]) for c in cols) + " |"
    out = [line({c: c for c in cols}), "|" + "|".join("-" * (width[c] + 2) for c in cols) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out) + "\n"


def target_lines(items):
    mark = {True: "PASS", False: "FAIL", None: "n/a "}
    return "".join(f"  {mark[t['pass']]}  {t['target']}: {t['measured']}\n" for t in items)


def render(results):
    text = "Throughput, latency, set-up (every ratio against direct from this same run)\n\n"
    text += table(main_rows(results))
    text += "\nCPU seconds per GiB moved, per process\n\n" + table(cpu_rows(results))
    text += "\nMemory (VmRSS): idle baseline and per idle tunnel\n\n" + table(memory_rows(results))
    if results.get("apps"):
        text += ("\nReal applications, direct and through hcbridge -L -> hcrelay (TLS) -> hcbridge -T, or for http through "
                 "hcrelay (TLS) -> hcbridge -H (same run)\n\n"
                 + table(app_rows(results)))
    errors = [(n, e) for n, r in results["chains"].items() for e in r.get("errors", [])]
    errors += [(n, e) for n, r in results.get("apps", {}).items() for e in r.get("errors", [])]
    if errors:
        text += "\nErrors\n\n" + "".join(f"  {n}: {e}\n" for n, e in errors)
    for name, m in results.get("memory", {}).items():
        for run in m.get("runs", []):
            if run.get("errors"):
                text += f"\n{name}, {run['requested']} idle tunnels, errors: {json.dumps(run['errors'])}\n"
    text += "\nTargets (issue 6; reported, not asserted)\n\n" + target_lines(results["targets"])
    if results.get("tls_targets"):
        text += "\nTargets of the TLS data path (issue 16; reported, not asserted)\n\n" + target_lines(results["tls_targets"])
    return text


def write_csv(results, path):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["chain", "figure", "value", "unit"])
        for name, r in results["chains"].items():
            for key in ("single", "parallel"):
                if r.get(key):
                    w.writerow([name, f"{key}_throughput", round(r[key]["mb_per_s"], 3), "MB/s"])
                    for role, v in r[key]["cpu_s_per_gib"].items():
                        w.writerow([name, f"{key}_cpu[{role}]", round(v, 4), "s/GiB"])
            for k in ("p50_us", "p99_us"):
                if r.get("latency"):
                    w.writerow([name, f"latency_{k}", r["latency"][k], "us"])
            for k, v in r.get("derived", {}).items():
                if v is not None:
                    w.writerow([name, k, round(v, 4), ""])
            if r.get("setup"):
                w.writerow([name, "setup_rate", round(r["setup"]["per_second"], 1), "1/s"])
                w.writerow([name, "setup_p99_us", r["setup"]["p99_us"], "us"])
        for app, r in results.get("apps", {}).items():
            for t in r.get("tests", []):
                for path in ("direct", "tunnel"):
                    if (t.get(path) or {}).get("value") is not None:
                        w.writerow([app, f"{t['test']} [{path}]", round(t[path]["value"], 3), t["unit"]])
        for name, m in results.get("memory", {}).items():
            for role, base in m.get("baseline_kib", {}).items():
                w.writerow([name, f"baseline_rss[{role}]", base, "KiB"])
            for role, private in m.get("baseline_private_kib", {}).items():
                if private is not None:
                    w.writerow([name, f"baseline_private[{role}]", private, "KiB"])
            for run in m.get("runs", []):
                for role, v in run.get("kib_per_tunnel", {}).items():
                    w.writerow([name, f"rss_per_tunnel@{run['requested']}[{role}]", round(v, 2), "KiB"])
                w.writerow([name, f"open@{run['requested']}", run.get("open", 0), "tunnels"])


def plot(results, path, workdir):
    """Three panels with gnuplot: throughput, CPU per GiB of the forwarding ends, latency. False if no gnuplot."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return False
    data = os.path.join(workdir, "plot.dat")
    names = list(results["chains"])
    with open(data, "w", encoding="utf-8") as f:
        for name in names:
            d = results["chains"][name].get("derived", {})
            vals = [get(results, name, "single", "mb_per_s"), get(results, name, "parallel", "mb_per_s"),
                    d.get("single_ends_cpu_s_per_gib"),
                    (get(results, name, "single", "cpu_s_per_gib") or {}).get("hcrelay"),
                    get(results, name, "latency", "p50_us"), get(results, name, "latency", "p99_us")]
            f.write(f'"{name}" ' + " ".join("NaN" if v is None else f"{v:.4f}" for v in vals) + "\n")
    meta = results["meta"]
    script = f"""
set terminal pngcairo size 1400,520 font ",10"
set output '{path}'
set multiplot layout 1,3 title "hcbridge benchmarks, loopback, {meta['date']}, commit {meta['commit']}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set xtics rotate by -35 scale 0
set key top left
set grid ytics
set yrange [0:*]
set title "Throughput (MB/s, verified bytes)"
plot '{data}' using 2:xtic(1) title "1 stream", '' using 3 title "16 streams"
set title "CPU seconds per GiB (1 stream)"
plot '{data}' using 4:xtic(1) title "both forwarding ends", '' using 5 title "hcrelay"
set title "64-byte request/response (us)"
set logscale y
set yrange [*:*]
plot '{data}' using 6:xtic(1) title "p50", '' using 7 title "p99"
unset multiplot
"""
    done = subprocess.run([gnuplot], input=script, text=True, capture_output=True)
    if done.returncode != 0:  # e.g. a whole column missing because a chain failed: the table still says it all
        print(f"plot skipped: gnuplot: {done.stderr.strip()}", file=sys.stderr)
        return False
    return True


def write_all(results, out_dir, stem, workdir):
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, stem)
    with open(base + ".json", "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
    write_csv(results, base + ".csv")
    with open(base + ".txt", "w", encoding="utf-8") as f:
        f.write(render(results))
    png = base + ".png" if plot(results, base + ".png", workdir) else None
    return base, png
