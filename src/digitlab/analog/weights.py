"""One layer's trainable weights on a device, or in float for the ideal device: the seam between a
training loop and the devices. ``values`` is what the forward pass uses (the devices' read-back);
``apply(delta)`` asks for a change and lets the rule and the devices decide what really happens."""

import numpy as np

from digitlab.analog.synapses import Synapses


class DeviceWeights:
    def __init__(self, device, rule, initial, w_max=1.0, rng=None, clip=True, out=None):
        """``initial`` weights are programmed exactly (float32, clipped to +-w_max on a device).
        ``out``: a float32 array to keep ``values`` in (a layer's own kernel, updated in place)."""
        self.device, self.rule, self.w_max, self.clip = device, rule, float(w_max), clip
        initial = np.asarray(initial, np.float32)
        self.values = np.empty(initial.shape, np.float32) if out is None else out
        if device.ideal:
            self.synapses = None
            self.values[...] = np.clip(initial, -self.w_max, self.w_max) if clip else initial
        else:
            self.synapses = Synapses(device, initial.shape, w_max=w_max, rng=rng)
            self.synapses.program(initial)
            self.values[...] = self.synapses.read()

    def reread(self):
        """Make ``values`` the devices' read-back everywhere (after someone else changed them)."""
        if self.synapses is not None:
            self.values[...] = self.synapses.read()

    def apply(self, delta, where=None):
        """Change the weights by (what the devices make of) ``delta``; ``values`` is then current.

        With ``where`` (flat indices), ``delta`` holds the changes of those weights only."""
        delta = np.asarray(delta, np.float32)
        flat = self.values.reshape(-1)
        if self.synapses is None:
            if where is None:
                self.values += delta
            else:
                flat[where] += delta.reshape(-1)
            if self.clip:
                np.clip(self.values, -self.w_max, self.w_max, out=self.values)
            return
        written = self.rule.update(self.synapses, delta, where)
        if written is None:
            self.values[...] = self.synapses.read()
        elif written.size:
            flat[written] = self.synapses.read(written)

    @property
    def pulses(self) -> int:
        return 0 if self.synapses is None else self.synapses.pulses_applied
