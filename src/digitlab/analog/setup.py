"""What every device in a comparison trains: the network, the update rule and the training
(``AnalogSetup``, a frozen dataclass; ``digitlab.analog.training`` runs it)."""

from dataclasses import asdict, dataclass, replace

from digitlab.analog.rules import get_rule
from digitlab.errors import ConfigError
from digitlab.nn.checks import number, whole_number


@dataclass(frozen=True)
class AnalogSetup:
    """The network and training every device in a comparison gets."""
    hidden: tuple = (128,)        # hidden layer sizes: 784-128-10
    activation: str = "relu"      # of the hidden layers (the output is softmax)
    use_bias: bool = False        # seed 001's network has none
    rule: str = "neurosim"        # tutorial, neurosim or mixed (digitlab.analog.rules)
    epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 0.3    # plain SGD; large enough that NeuroSim's rule sends pulses at all
    w_max: float = 0.3            # device weights span [-w_max, w_max] (the initial weights fit)
    init: str = "model"           # "model": the initialiser's weights, programmed; "levels": a random level per device
    seed: int = 0
    train_samples: int | None = None  # the first N training images only (a quick look)
    test_samples: int | None = None   # the first N test images only

    def __post_init__(self):
        for name in ("epochs", "batch_size"):
            whole_number(getattr(self, name), name)
        for name in ("learning_rate", "w_max"):
            number(getattr(self, name), name, "> 0 and finite")
        whole_number(self.seed, "seed", least=0)
        if self.init not in ("model", "levels"):
            raise ConfigError(f"init must be 'model' or 'levels', got {self.init!r}")
        get_rule(self.rule)

    def with_changes(self, **changes):
        """A copy with some fields changed (those given as None keep their value)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def describe(self) -> str:
        sizes = "-".join(str(n) for n in (784, *self.hidden, 10))
        return (f"{sizes} {self.activation}{'' if self.use_bias else ', no bias'}; rule {self.rule}; "
                f"SGD lr {self.learning_rate:g}, batch {self.batch_size}, {self.epochs} epochs; "
                f"weights in +-{self.w_max:g}")

    def to_dict(self) -> dict:
        return asdict(self)


DEFAULT_SETUP = AnalogSetup()  # the default of every function that takes a setup (frozen, so one is safe to share)
