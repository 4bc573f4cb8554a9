"""A run's figures and its report: one self-contained ``report.html`` anyone can open.

``write_report(folder, model, evaluation, history, config)`` draws every figure into ``folder`` as a
PNG and writes ``report.html`` beside them, with the figures embedded as data URIs and the style
inline: the file needs nothing else, and no network. ``evaluate_run(model_path)`` is what
``digitlab evaluate`` does.
"""

import base64
import json
from datetime import datetime
from html import escape
from pathlib import Path

import numpy as np

from digitlab.data import load_data
from digitlab.files import atomic_write
from digitlab.models import load_digit_model
from digitlab.reporting import plots
from digitlab.reporting.evaluation import evaluate
from digitlab.reporting.figures import DEFAULT_COUNT, FIGURES, draw
from digitlab.runs import CONFIG, HISTORY, REPORT

HYPER_PARAMETERS = ("optimizer", "learning_rate", "optimizer_options", "loss", "epochs", "batch_size",
                    "steps_per_epoch", "with_replacement", "shuffle")


def write_report(folder, model, evaluation, history=None, config=None, samples=None):
    """Draw the figures into ``folder`` and write ``folder/report.html``; returns its path.

    ``evaluation`` must hold the test images (``evaluate`` keeps them); ``history`` is the dict of
    history.json, ``config`` that of config.json (both optional); ``samples`` is (images, labels)
    of training digits to show, the first 25 of MNIST's training set if None.
    """
    folder = Path(folder)
    if samples is None:
        (x_train, y_train), _ = load_data()
        samples = (x_train[:25], y_train[:25])
    figures = {kind: draw(kind, folder / f"{kind}.png", evaluation=evaluation, model=model,
                          history=history, samples=samples) for kind in FIGURES}
    page = render_html(folder.name, model, evaluation, figures, history, config or {})
    path = folder / REPORT
    atomic_write(path, page.encode("utf-8"))
    return path


def evaluate_run(model_path, out=None):
    """``digitlab evaluate``: test the model on the 10,000 MNIST test digits and write its figures
    and report.html to ``out`` [default: the model's folder], using the run's history.json and
    config.json when they are beside the model. Returns (evaluation, report path)."""
    model = load_digit_model(model_path)
    _, (x_test, y_test) = load_data()
    evaluation = evaluate(model, x_test, y_test)
    run_dir = Path(model_path).parent
    config = _read_json(run_dir / CONFIG) or {"recipe": model.metadata.get("recipe") or {}}
    report = write_report(Path(out) if out else run_dir, model, evaluation,
                          history=_read_json(run_dir / HISTORY), config=config)
    return evaluation, report


def _read_json(path):
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def render_html(title, model, evaluation, figures, history, config):
    """The report page as a string: every value from data is escaped, every figure a data URI.

    ``config`` is a run's config.json; the run's arguments (seed, dry_run...) are read at its top
    level or under ``settings``."""
    config = {**(config.get("settings") or {}), **config}
    recipe = config.get("recipe") or {}
    sections = [
        _headline(evaluation, recipe, config),
        section("curves", "How training went", figure_html(figures["curves"], _curves_caption(history))),
        section("predictions", "Sample predictions",
                 figure_html(figures["predictions"], _PREDICTIONS_CAPTION)),
        section("per-class", "Which digits it reads well", _per_class(evaluation)),
        section("confusion", "What it confuses",
                 figure_html(figures["confusion"], _confusion_caption(evaluation))),
        section("mistakes", "Its most confident mistakes",
                 figure_html(figures["mistakes"], _mistakes_caption(evaluation))),
        section("filters", "What the first layer looks for",
                 figure_html(figures["filters"], _filters_caption(model))),
        section("recipe", "The recipe and the model", _recipe(recipe, config, model)),
        section("data", "The training digits", figure_html(figures["samples"], _SAMPLES_CAPTION)),
    ]
    when = config.get("started") or datetime.now().astimezone().isoformat(timespec="seconds")
    return _PAGE.format(title=escape(title), headline=escape(evaluation.headline()), style=STYLE,
                        body="\n".join(sections), footer=escape(_footer(config, when)))


def _headline(evaluation, recipe, config):
    accuracy = evaluation.accuracy
    tone = "good" if accuracy >= 0.97 else "fair" if accuracy >= 0.9 else "poor"
    right = evaluation.count - evaluation.wrong
    facts = [("recipe", recipe.get("name", "unknown")), ("trained in", _duration(config.get("seconds"))),
             ("epochs", _epochs(config, recipe)), ("training set", _digits(config.get("train_samples"))),
             ("test digits", f"{evaluation.count:,}"), ("seed", config.get("seed", "unknown"))]
    warnings = []
    if config.get("dry_run"):
        warnings.append("This was a dry run: two batches of training, to check that everything works. "
                        "Its accuracy says nothing about how good the model can get; run "
                        "<code>digitlab train</code> without <code>--dry-run</code> for that.")
    if config.get("stopped_on_nan"):
        warnings.append(f"Training stopped early: {escape(str(config['stopped_on_nan']))}")
    about = recipe.get("description", "")
    if recipe.get("tutorial_result"):
        about += f"; the tutorial it comes from reports {recipe['tutorial_result']}"
    return f"""<section id="summary" class="headline {tone}">
  <p class="big">{100 * accuracy:.1f}%<span> of {evaluation.count:,} test digits right;
  {evaluation.wrong:,} wrong</span></p>
  <p>Of {evaluation.count:,} handwritten digits it never saw in training, the network read {right:,}
  correctly. {escape(_verdict(evaluation))}</p>
  {f'<p class="muted">{escape(about)}.</p>' if about else ''}
  {"".join(f'<p class="warning">{warning}</p>' for warning in warnings)}
  <dl class="facts">{"".join(f"<div><dt>{escape(k)}</dt><dd>{escape(str(v))}</dd></div>" for k, v in facts)}</dl>
</section>"""


def _verdict(evaluation):
    accuracy, wrong = evaluation.accuracy, evaluation.wrong
    one_in = f" It misreads about 1 digit in {round(evaluation.count / wrong):,}." if wrong else ""
    if accuracy >= 0.99:
        return "Excellent: as good as the best small convolutional networks on MNIST." + one_in
    if accuracy >= 0.98:
        return "Very good: about what a well-trained fully connected network reaches on MNIST." + one_in
    if accuracy >= 0.95:
        return "Good: it reads most digits, though longer training or a bigger network does better." + one_in
    if accuracy >= 0.8:
        return "Fair: it has learned the broad shapes of the digits; more training would help." + one_in
    if accuracy > 0.2:
        return "Poor: it has only begun to learn (a random guess is right 1 time in 10)."
    return "No better than guessing: a random guess is right 1 time in 10."


def _curves_caption(history):
    if not history or not history.get("loss"):
        return "No history.json was found beside the model, so there are no curves to draw."
    test, train = history.get("val_accuracy") or [], history.get("accuracy") or []
    text = ("Loss (left) measures how wrong the network's probabilities are and should fall; "
            "accuracy (right) is the share of digits read right and should rise. ")
    if len(history["loss"]) == 1:
        text += "Only one epoch was trained, so each curve is a single point. "
    elif test:
        text += (f"Over {len(test)} epochs the test accuracy went from {100 * test[0]:.1f}% to "
                 f"{100 * test[-1]:.1f}%. ")
    if not (test and train):
        return text
    if train[-1] - test[-1] > 0.02:
        text += ("Training accuracy ends well above test accuracy: the network has started to memorise "
                 "its training digits (overfitting).")
    elif test[-1] - train[-1] > 0.02:
        text += ("Test accuracy is above training accuracy: the training figure is averaged over an "
                 "epoch while the network was still learning, the test figure is measured at its end.")
    else:
        text += ("Train and test stay close: what it learned carries over to digits it never saw. If "
                 "the test curve flattens while training keeps improving, it is memorising instead.")
    return text


_PREDICTIONS_CAPTION = (
    "The first test digits, each beside the ten probabilities the network gave it. The red bar is "
    "the network's answer and the blue bar the true digit: when it is right the blue bar covers the "
    "red one. Under each digit: its answer, how sure it was, and the true digit in brackets, in red "
    "when wrong.")
_SAMPLES_CAPTION = ("The first 25 of the 60,000 training digits, with their labels: the kind of "
                    "28x28 greyscale handwriting the network learned from.")


def _confusion_caption(evaluation):
    text = ("Rows are the true digit, columns the network's answer. The green diagonal counts the "
            "digits it read right; every red cell is a confusion, darker the more often it happens; "
            "empty cells never happened. ")
    top = evaluation.top_confusions(3)
    if top:
        text += "Its most frequent confusions: " + ", ".join(
            f"{true} read as {said} ({count:,} time{'s' if count != 1 else ''})" for true, said, count in top) + "."
    return text


def _mistakes_caption(evaluation):
    if not evaluation.wrong:
        return "It made no mistakes on these test digits."
    shown = min(evaluation.wrong, DEFAULT_COUNT["mistakes"])
    return (f"It misread {evaluation.wrong:,} digits; these are the {shown} it was surest about. Above "
            "each: the true digit and the network's answer; below: how sure it was. Some are digits a "
            "person would hesitate over too; the others show what it has not learned yet.")


def _filters_caption(model):
    kernel = plots.first_layer_kernel(model)
    if kernel is None:
        return "This model's first layer has no weights that can be drawn as images."
    shown = min(len(kernel.T) if kernel.ndim == 2 else len(kernel), DEFAULT_COUNT["filters"])
    if kernel.ndim == 2:
        return (f"Each square is one of the first layer's {kernel.shape[1]:,} units (the first {shown} "
                "are shown): its 784 input weights laid out as the 28x28 image it looks at. Red where ink "
                "raises the unit's output, blue where ink lowers it. Trained units show strokes and "
                "blobs; speckle is what the random starting weights look like, and fades slowly.")
    return (f"Each square is one of the first convolution's {len(kernel)} kernels ({kernel.shape[2]}x"
            f"{kernel.shape[3]} pixels; the first {shown} are shown): the small pattern it looks for "
            "everywhere in the image. Red weights respond to ink, blue ones to its absence; edges and "
            "stroke pieces are typical.")


def _per_class(evaluation):
    support = evaluation.confusion.sum(axis=1)
    rows = "".join(
        f"<tr><td>{digit}</td><td>{evaluation.precision[digit]:.3f}</td>"
        f"<td>{evaluation.recall[digit]:.3f}</td><td>{f1:.3f}</td>"
        f"<td class='bar'><span style='width:{100 * f1:.1f}%'></span></td><td>{support[digit]:,}</td></tr>"
        for digit, f1 in enumerate(evaluation.f1))
    f1 = evaluation.f1
    hardest, easiest = int(np.argmin(f1)), int(np.argmax(f1))
    return f"""<table class="numbers"><thead><tr><th>digit</th><th>precision</th><th>recall</th>
  <th>F1</th><th></th><th>test digits</th></tr></thead><tbody>{rows}</tbody></table>
<p class="caption">Precision: of the digits the network called a 3, the share that really were 3s.
Recall: of the real 3s, the share it found. F1 combines the two (1.000 is perfect). Hardest digit
here: {hardest} (F1 {f1[hardest]:.3f}); easiest: {easiest} (F1 {f1[easiest]:.3f}).</p>"""


def _recipe(recipe, config, model):
    settings = [(key, recipe[key]) for key in HYPER_PARAMETERS if key in recipe]
    settings += [(key, config[key]) for key in ("seed", "train_samples", "test_samples", "dry_run")
                 if key in config]
    rows = "".join(f"<tr><th>{escape(key.replace('_', ' '))}</th><td>{escape(_value(value))}</td></tr>"
                   for key, value in settings)
    about = "<p>The model file names no recipe.</p>"
    if recipe:
        source = f" (from tutorial {recipe['source']})" if recipe.get("source") else ""
        about = (f"<p><strong>{escape(recipe.get('name', ''))}</strong>: "
                 f"{escape(recipe.get('description', '') + source)}</p>")
    return f"""{about}
<h3>Hyper-parameters</h3>
<table class="settings">{rows or '<tr><td>not recorded</td></tr>'}</table>
<h3>Layers</h3>
<pre>{escape(model.summary(print_fn=None))}</pre>"""


def _value(value):
    if value in ({}, [], None):
        return "none"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return json.dumps(value) if isinstance(value, (dict, list, bool)) else str(value)


def section(anchor, title, body):
    return f'<section id="{anchor}">\n<h2>{escape(title)}</h2>\n{body}\n</section>'


def figure_html(path, caption):
    if path is None:
        return f'<p class="caption">{escape(caption)}</p>'
    encoded = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{encoded}" alt="{escape(Path(path).stem)}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _footer(config, when):
    versions = config.get("versions") or {}
    made = ", ".join(f"{name} {version}" for name, version in versions.items())
    return f"Written by digitlab on {when}" + (f" ({made})" if made else "") + "."


def _duration(seconds):
    if seconds is None:
        return "unknown"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _epochs(config, recipe):
    if config.get("dry_run"):
        return "1 (two batches)"
    return recipe.get("epochs", "unknown")


def _digits(value):
    return f"{value:,} digits" if isinstance(value, int) else "unknown"


STYLE = """
:root { --ink: #1d2330; --muted: #5b6475; --line: #e3e6ec; --good: #1e7b45; --fair: #b26b00;
        --poor: #b3261e; --blue: #1f77b4; --paper: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--paper); color: var(--ink); line-height: 1.5;
       font: 16px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header, main, footer { max-width: 1000px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 28px; }
header h1 { font-size: 1.25rem; font-weight: 600; margin: 0; }
header p { color: var(--muted); margin: 2px 0 0; }
nav { margin: 14px 0 0; font-size: .92rem; }
nav a { color: var(--blue); text-decoration: none; margin-right: 14px; white-space: nowrap; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 22px 28px;
          margin: 18px 0; }
h2 { font-size: 1.3rem; margin: 0 0 12px; }
h3 { font-size: 1rem; margin: 20px 0 8px; }
.headline { border-top: 6px solid var(--good); }
.headline.fair { border-top-color: var(--fair); }
.headline.poor { border-top-color: var(--poor); }
.big { font-size: 3.6rem; font-weight: 700; line-height: 1.1; margin: 4px 0 14px; color: var(--good); }
.big span { font-size: 1.35rem; font-weight: 600; color: var(--ink); margin-left: 6px; }
.fair .big { color: var(--fair); }
.poor .big { color: var(--poor); }
.muted, .caption, figcaption { color: var(--muted); }
.warning { background: #fff4e0; border-left: 4px solid var(--fair); padding: 8px 12px; }
.facts { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 16px 0 0; }
.facts dt { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
.facts dd { margin: 0; font-weight: 600; }
figure { margin: 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption, .caption { font-size: .95rem; margin-top: 10px; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
td, th { padding: 5px 14px; border-bottom: 1px solid var(--line); text-align: right; }
th { font-weight: 600; }
table.settings th { text-align: left; color: var(--muted); font-weight: 500; }
table.settings td { text-align: left; }
td.bar { width: 180px; text-align: left; padding-left: 0; }
td.bar span { display: inline-block; height: 12px; border-radius: 3px; background: #7fb0dc;
              vertical-align: middle; }
tbody tr:nth-child(even) { background: #fafbfc; }
pre { background: var(--paper); padding: 12px 14px; border-radius: 6px; overflow-x: auto; font-size: .85rem; }
code { background: var(--paper); padding: 1px 4px; border-radius: 4px; }
footer { color: var(--muted); font-size: .85rem; padding-bottom: 32px; }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}: {headline}</title>
<style>{style}</style>
</head>
<body>
<header>
<h1>digitlab report: {title}</h1>
<p>How well a network learned to read handwritten digits (MNIST), and where it goes wrong.</p>
<nav><a href="#summary">Result</a><a href="#curves">Training</a><a href="#predictions">Predictions</a><a
 href="#per-class">Per digit</a><a href="#confusion">Confusions</a><a href="#mistakes">Mistakes</a><a
 href="#filters">First layer</a><a href="#recipe">Recipe</a><a href="#data">Data</a></nav>
</header>
<main>
{body}
</main>
<footer><p>{footer}</p></footer>
</body>
</html>
"""
