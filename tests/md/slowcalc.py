"""A deliberately slow Lennard-Jones calculator, so a test can kill a run between steps."""

from __future__ import annotations

import time

from ase.calculators.lj import LennardJones


class SlowLJ(LennardJones):
    def calculate(self, *args, **kwargs):
        time.sleep(0.1)
        super().calculate(*args, **kwargs)
