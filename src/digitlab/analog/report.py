"""The HTML report of a device comparison (``digitlab analog train``): one self-contained page, the
figures embedded as data URIs and the style inline, in the look of a run's report."""

from datetime import datetime
from html import escape
from pathlib import Path

from digitlab.analog.rules import DESCRIPTIONS
from digitlab.files import atomic_write
from digitlab.reporting.report import STYLE, figure_html, section
from digitlab.runs import REPORT


def table_rows(runs):
    """One row of facts per device run (the console table and the report share them)."""
    rows = []
    for run in runs:
        device = run.device
        if device.ideal:
            levels = nonlinearity = noise = "-"
        else:
            levels = str(device.levels) if device.levels_ltd is None else f"{device.levels}/{device.levels_ltd}"
            ltp, ltd = device.labels
            nonlinearity = f"{ltp:g} / {ltd:g}"
            noise = f"{device.c2c:.1%}"
        rows.append({"device": device.name, "levels": levels, "nonlinearity": nonlinearity, "c2c": noise,
                     "final": f"{run.final:.2%}", "best": f"{max(run.accuracy):.2%}" if run.accuracy else "-",
                     "pulses": f"{run.pulses:,}", "time": f"{run.seconds:.1f} s"})
    return rows


HEADINGS = {"device": "device", "levels": "levels", "nonlinearity": "NL (LTP / LTD)", "c2c": "c2c",
            "final": "final accuracy", "best": "best", "pulses": "pulses", "time": "time"}


def text_table(runs) -> str:
    """The comparison as aligned text for the console."""
    rows = [HEADINGS] + table_rows(runs)
    widths = {key: max(len(row[key]) for row in rows) for key in HEADINGS}
    lines = ["  ".join(row[key].ljust(widths[key]) if key == "device" else row[key].rjust(widths[key])
                       for key in HEADINGS) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def write_report(folder, title, setup, runs, figures) -> Path:
    """Write ``folder/report.html`` for ``runs`` of ``setup`` (an AnalogSetup); ``figures`` maps
    "accuracy" and "curves" to PNG paths. Returns the report's path."""
    folder = Path(folder)
    devices = [run for run in runs if not run.device.ideal] or runs
    best = max(devices, key=lambda run: run.final)
    ideal = next((run for run in runs if run.device.ideal), None)
    against = f", against {ideal.final:.1%} in float" if ideal and not best.device.ideal else ""
    rows = table_rows(runs)
    header = "".join(f"<th>{escape(text)}</th>" for text in HEADINGS.values())
    body_rows = "".join("<tr>" + "".join(f"<td>{escape(row[key])}</td>" for key in HEADINGS) + "</tr>"
                        for row in rows)
    summary = (f'<p class="big">{best.final:.1%}<span>on {escape(best.device.name)}, the best device after '
               f"{len(best.accuracy)} epochs{against}</span></p>"
               f"<table><thead><tr>{header}</tr></thead><tbody>{body_rows}</tbody></table>"
               f'<p class="caption">Test accuracy on the MNIST test digits after the last epoch, the best '
               f"epoch, how many programming pulses training sent to the devices and how long it took. NL "
               f"are NeuroSim's nonlinearity labels (0 is a straight line); c2c is the write noise per "
               f"pulse as a fraction of the conductance range.</p>")
    devices = "".join(f"<li>{escape(run.device.describe())}"
                      + (f' <span class="muted">({escape(run.device.source)})</span>' if run.device.source else "")
                      + "</li>" for run in runs)
    sections = [
        section("summary", "Result", summary),
        section("curves", "Accuracy per epoch", figure_html(
            figures.get("accuracy"), "Test accuracy after every epoch: each device trained the same "
            "network from the same seed; only the weights' storage differs.")),
        section("devices", "The devices", figure_html(
            figures.get("curves"), "Each device's conductance against pulse number, up from Gmin "
            "(potentiation) and down from Gmax (depression). A straight line is the ideal; a bent one "
            "gives big steps at one end and small at the other.") + f"<ul>{devices}</ul>"),
        section("setup", "Training", f"<p>{escape(setup.describe())}.</p><p>Update rule "
                 f"<code>{escape(setup.rule)}</code>: {escape(DESCRIPTIONS.get(setup.rule, ''))}.</p>"),
    ]
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    page = _PAGE.format(title=escape(title), style=STYLE, body="\n".join(sections),
                        footer=f"Written by digitlab analog on {when}.")
    path = folder / REPORT
    atomic_write(path, page.encode("utf-8"))
    return path


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
<header>
<h1>digitlab analog report: {title}</h1>
<p>How well the same network learns to read handwritten digits when its weights live on memristive
devices.</p>
<nav><a href="#summary">Result</a><a href="#curves">Accuracy</a><a href="#devices">Devices</a><a
 href="#setup">Training</a></nav>
</header>
<main>
{body}
</main>
<footer><p>{footer}</p></footer>
</body>
</html>
"""
