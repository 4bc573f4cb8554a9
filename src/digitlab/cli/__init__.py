"""`digitlab ...`: parses arguments, calls the library, prints. No logic of its own.

Exit codes: 0 success, 1 a runtime problem (a bad file, a failed check), 2 a usage mistake.
"""

import os
import sys

import click

from digitlab.cli.types import SEED, PngFile, PositiveNumber
from digitlab.errors import DigitlabError
from digitlab.recipes import DEFAULT_RECIPE, DEVICE_RECIPES, RECIPES


class _Group(click.Group):
    """Turns digitlab's errors, and files the system refuses, into one line on stderr and exit
    status 1, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DigitlabError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)
        except BrokenPipeError:  # the reader went away (digitlab recipes | head): nothing left to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush is quiet
            sys.exit(1)
        except OSError as error:  # the system refused a file: permissions, a full disk, a file in the path
            click.echo(f"error: {_refused(error)}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("stopped", err=True)
            sys.exit(130)


def _refused(error: OSError) -> str:
    """One line for a file operation the system refused."""
    where = error.filename or "a file"
    file_in_the_way = isinstance(error, NotADirectoryError) or (
        isinstance(error, FileExistsError) and os.path.isfile(where))
    why = "a file stands where a folder is needed" if file_in_the_way else (error.strerror or str(error)).lower()
    return f"cannot use {where}: {why}; check the path and its permissions, or choose another"


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="digitlab")
def main():
    """Handwritten-digit recognition with neural networks, on a NumPy engine of its own."""


@main.command()
@click.option("--recipe", type=click.Choice([*RECIPES, *DEVICE_RECIPES]), default=DEFAULT_RECIPE,
              help="the model and hyper-parameters to train (`digitlab recipes` lists them)")
@click.option("--epochs", type=click.IntRange(min=1), help="passes over the data [default: the recipe's]")
@click.option("--steps", type=click.IntRange(min=1),
              help="training steps, for step-based recipes (tf-sigmoid, two-layer, cnn...)")
@click.option("--batch-size", type=click.IntRange(min=1), help="samples per step [default: the recipe's]")
@click.option("--lr", type=PositiveNumber(),
              help="learning rate [default: the recipe's]")
@click.option("--seed", type=SEED, default=0, help="seed for the weights, shuffling and dropout")
@click.option("--out", type=click.Path(file_okay=False), default="runs", help="folder for run folders")
@click.option("--train-samples", type=click.IntRange(min=1),
              help="train on only the first N training images (a quick look)")
@click.option("--test-samples", type=click.IntRange(min=1),
              help="test on only the first N test images (a quick look)")
@click.option("--dry-run", is_flag=True, help="one epoch of two batches: checks the pipeline end to end")
@click.option("--backend", type=click.Choice(["cpu", "gpu"]), default="cpu",
              help="where the engine runs: gpu needs CuPy (pip install 'digitlab[gpu]') and a CUDA GPU")
@click.option("--device", "old_backend", type=click.Choice(["cpu", "gpu"]), hidden=True,
              help="the old name of --backend (\"device\" now means a memristor only)")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False),
              help="go on with an interrupted run from its folder's checkpoint (other options ignored)")
@click.option("--quiet", "-q", is_flag=True, help="print only the result")
def train(recipe, epochs, steps, batch_size, lr, seed, out, train_samples, test_samples, dry_run, backend,
          old_backend, resume_dir, quiet):
    """Train a recipe on MNIST, test it, and write a run folder.

    Ctrl-C finishes the batch, saves a checkpoint and says how to resume; a second Ctrl-C stops at once.
    """
    from digitlab.runs import CHECKPOINT, RunConfig
    from digitlab.training import resume_run, train_run

    config = RunConfig(recipe, epochs=epochs, steps=steps, batch_size=batch_size, learning_rate=lr, seed=seed,
                       dry_run=dry_run, train_samples=train_samples, test_samples=test_samples,
                       backend=old_backend or backend)
    if config.recipe in DEVICE_RECIPES:  # a device-aware experiment: `digitlab analog train` runs it
        from digitlab.cli.analog import train as analog_train
        from digitlab.errors import ConfigError

        try:
            DEVICE_RECIPES[config.recipe].refuse(config, resume_dir)
        except ConfigError as error:
            raise click.UsageError(str(error)) from None
        click.get_current_context().invoke(
            analog_train, recipe=config.recipe, epochs=config.epochs, batch_size=config.batch_size,
            lr=config.learning_rate, seed=config.seed, train_samples=config.train_samples,
            test_samples=config.test_samples, out=out, dry_run=config.dry_run, quiet=quiet)
        return
    if resume_dir:
        if not quiet:
            click.echo(f"resuming {resume_dir}")
        result = resume_run(resume_dir, verbose=not quiet)
    else:  # it says what it trains and what the options changed in the recipe, unless quiet
        result = train_run(config, out=out, verbose=not quiet)
    if result.interrupted:
        click.echo(f"interrupted: the checkpoint is saved; resume with `digitlab train --resume {result.run_dir}`",
                   err=True)
        sys.exit(130)
    if result.stopped_early:
        if (result.run_dir / CHECKPOINT).exists():
            click.echo(f"the last good checkpoint (an epoch's end) stays in {result.run_dir}", err=True)
        else:
            click.echo(f"no epoch had ended, so there is no checkpoint: {result.run_dir} holds the run's settings "
                       "only; try a smaller --lr", err=True)
        sys.exit(1)
    some = f" on {result.test_images:,} test images" if result.test_images and result.test_images < 10_000 else ""
    click.echo(f"test accuracy {result.test_accuracy:.4f}{some} (loss {result.test_loss:.4f}, "
               f"trained in {result.seconds:.1f} s)")
    click.echo(f"run folder: {result.run_dir}")
    click.echo(f"report: {result.report}")


@main.command()
def recipes():
    """List the recipes: name, source tutorial, model and the tutorial's result."""
    for recipe in RECIPES.values():
        click.echo(f"{recipe.name:<14} tutorial {recipe.source}  {recipe.description}")
        click.echo(f"{'':<14} tutorial's result: {recipe.tutorial_result}")
    for device_recipe in DEVICE_RECIPES.values():
        click.echo(f"{device_recipe.name:<14} tutorial {device_recipe.source}  {device_recipe.description} "
                   "(device-aware: `digitlab analog train`)")
        click.echo(f"{'':<14} tutorial's result: {device_recipe.tutorial_result}")


@main.command()
@click.option("--model", "model_path", type=click.Path(dir_okay=False),
              help="a model.safetensors written by `digitlab train` [default: the newest in ./runs that "
                   "is not a dry run]")
@click.option("--out", type=click.Path(file_okay=False),
              help="folder for the figures and report.html [default: the model's folder]")
def evaluate(model_path, out):
    """Test a saved model on the 10,000 MNIST test images: scores, confusions, figures, report."""
    from digitlab.reporting.report import evaluate_run
    from digitlab.runs import latest_model

    model_path = model_path or latest_model()
    click.echo(f"model: {model_path}")
    evaluation, report = evaluate_run(model_path, out)
    click.echo(f"test accuracy {evaluation.accuracy:.4f} on {evaluation.count:,} images "
               f"({evaluation.count - evaluation.wrong:,} right, {evaluation.wrong:,} wrong)\n")
    click.echo(evaluation.per_class_table() + "\n")
    click.echo(evaluation.confusion_table() + "\n")
    click.echo(f"figures: {report.parent}")
    click.echo(f"report: {report}")


@main.command()
@click.argument("figure", type=click.Choice(["samples", "predictions", "mistakes", "filters"]))
@click.option("--model", "model_path", type=click.Path(dir_okay=False),
              help="the model to draw from [default: the newest in ./runs, dry runs aside; samples need none]")
@click.option("--n", "count", type=click.IntRange(1, 100),
              help="how many digits or filters [default: 25 samples, 15 predictions, 15 mistakes, 32 filters]")
@click.option("--out", type=PngFile(),
              help="the PNG file to write [default: FIGURE.png beside the model, ./samples.png for samples]")
def show(figure, model_path, count, out):
    """Draw one figure to a PNG file and print its path.

    \b
    samples      training digits with their labels (needs no model)
    predictions  test digits beside their ten probabilities
    mistakes     the test digits misread with the most confidence
    filters      the first layer's weights as images
    """
    from digitlab.reporting.figures import draw_figure

    click.echo(draw_figure(figure, model_path, out, count))


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--model", "model_path", type=click.Path(dir_okay=False),
              help="a model.safetensors to read with [default: the model that ships with digitlab]")
@click.option("--top", type=click.IntRange(1, 10), default=3, help="how many guesses to show for each digit")
@click.option("--json", "as_json", is_flag=True, help="print the results as JSON on stdout")
@click.option("--plot", type=PngFile(),
              help="also draw each picture, the 28x28 the network saw and its probabilities to this PNG")
@click.option("--number", is_flag=True, help="each picture holds several digits in a row: read them as one number")
def predict(files, model_path, top, as_json, plot, number):
    """Read the handwritten digit in each picture: a photo, a scan or a drawing.

    Prints each file's digit, its probability and the next best guesses. A file that cannot be
    read gets one line on stderr, the others are still read, and the exit status is then 1.
    """
    import json

    from digitlab.predict import get_model, plot_predictions, predict_files, read_numbers

    model = get_model(model_path)
    results = (read_numbers if number else predict_files)(files, model, top)
    for result in results:
        if not result.ok:
            click.echo(result.summary(), err=True)
        elif not as_json:
            click.echo(result.summary())
    if as_json:
        click.echo(json.dumps([result.to_dict() for result in results], indent=2))
    if plot:
        click.echo(f"figure: {plot_predictions(results, files, plot)}", err=as_json)
    if not all(result.ok for result in results):
        sys.exit(1)


@main.command("export")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("--onnx", "onnx_path", required=True, type=click.Path(dir_okay=False), help="the ONNX file to write")
@click.option("--check/--no-check", default=True,
              help="run the file in onnxruntime on the 10,000 MNIST test images and compare with digitlab")
@click.option("--opset", type=click.IntRange(min=13), default=17, help="the ONNX operator set to write")
def export_command(model_path, onnx_path, check, opset):
    """Write MODEL (a .safetensors written by digitlab) as an ONNX file; needs `pip install 'digitlab[onnx]'`."""
    from digitlab.data import load_data
    from digitlab.export import TOLERANCE, ensure_installed, export_checked, export_onnx
    from digitlab.models import load_digit_model
    from digitlab.nn import load_model

    ensure_installed(runtime=check)
    if not check:
        click.echo(f"wrote {export_onnx(load_model(model_path), onnx_path, opset)} (opset {opset})")
        return
    model = load_digit_model(model_path)  # the check feeds it MNIST's test digits
    _, (x_test, _) = load_data()
    difference = export_checked(model, onnx_path, x_test, opset)
    click.echo(f"wrote {onnx_path} (opset {opset})")
    click.echo(f"onnxruntime vs digitlab on {len(x_test):,} test images: "
               f"max probability difference {difference:.2e} (tolerance {TOLERANCE:.0e})")


@main.command()
@click.option("--download", "name", help="download this dataset into the cache (e.g. fashion-mnist, kmnist)")
def datasets(name):
    """List the IDX datasets digitlab can load and whether each is cached; download one.

    The cache is $DIGITLAB_DATA, else $XDG_CACHE_HOME/digitlab, else ~/.cache/digitlab.
    """
    from digitlab.data.download import cache_dir, download, list_datasets

    if name is not None:  # "" too: it names no dataset, and download says so
        folder = download(name, progress=lambda file, url: click.echo(f"fetching {url}", err=True))
        click.echo(f"{name}: cached in {folder}")
        return
    click.echo(f"{'mnist':<14} bundled      MNIST handwritten digits, shipped with digitlab")
    for dataset, cached, _ in list_datasets():
        click.echo(f"{dataset.name:<14} {'cached' if cached else 'not cached':<12} {dataset.description}")
    click.echo(f"cache: {cache_dir()}")


@main.command()
@click.option("--model", "model_path", type=click.Path(dir_okay=False),
              help="a model.safetensors to read with [default: the model that ships with digitlab]")
@click.option("--host", default="127.0.0.1",
              help="the address to listen on (0.0.0.0 lets other machines in; only do that on a network you trust)")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, help="the port to listen on (0: any free port)")
def serve(model_path, host, port):
    """Draw digits in your browser: serve the draw-a-digit page and its JSON API.

    Needs the web extra: pip install 'digitlab[web]'. Prints the address to open; Ctrl+C stops it.
    """
    from digitlab.web.server import serve as serve_page

    serve_page(model_path, host, port, echo=click.echo)


from digitlab.cli.analog import analog_group  # noqa: E402  (digitlab analog ...: its own module)

main.add_command(analog_group)
