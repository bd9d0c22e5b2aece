"""What a detector can show beyond scores: declared once per class, asked by pages and plots.

Pages, ``ui/`` and the plotting helpers never guess from methods or names ("has ``assign``
means two decoders" was wrong for WAE-GAN); they ask ``model.capabilities()`` (a fitted or
unfitted detector, so the answer can depend on its parameters) or
``registry.capabilities(name, params)``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

#: legacy capability names (``odcore methods`` prints them)
NAMES = ("embed", "reconstruct", "generate", "boundary", "assign", "prior_distance", "adversarial", "report")


@dataclass(frozen=True)
class Capabilities:
    """The optional outputs of a detector.

    - ``latent``: ``embed(X)`` returns latent codes (n, k);
    - ``decoders``: ``reconstruct(X, decoder=d)`` works for each name ``d`` (``()``: no
      reconstruction); each call returns the reconstruction and per-feature squared errors;
    - ``generate``: ``generate(n, kind=k)`` works for each kind ``k`` (``()``: no generation);
    - ``assign``: ``assign(X)`` says which decoder wins each row (the two-decoder contest);
    - ``prior_distance``: ``prior_distance(X)`` (distance of the code from the prior mean);
    - ``boundary``: ``boundary(grid)`` scores a 2-D slice of the input space (the decision map);
    - ``adversarial``: ``adversarial_points_`` holds generated negatives after ``fit``;
    - ``report``: ``report()`` says what the detector chose and why (an ensemble's members and their
      agreement, ``auto``'s choice): a dict with ``summary`` (one line) and ``lines`` (to show);
    - ``latent_name``: what the latent codes are, for axis titles.
    """

    latent: bool = False
    decoders: tuple[str, ...] = ()
    generate: tuple[str, ...] = ()
    assign: bool = False
    prior_distance: bool = False
    boundary: bool = False
    adversarial: bool = False
    report: bool = False
    latent_name: str = "latent code"

    @property
    def reconstruct(self) -> bool:
        return bool(self.decoders)

    @property
    def two_decoders(self) -> bool:
        return len(self.decoders) > 1

    def names(self) -> set[str]:
        """The legacy capability names that hold (``embed``, ``reconstruct``, ``generate`` ...)."""
        flags = {"embed": self.latent, "reconstruct": self.reconstruct, "generate": bool(self.generate),
                 "boundary": self.boundary, "assign": self.assign, "prior_distance": self.prior_distance,
                 "adversarial": self.adversarial, "report": self.report}
        return {k for k in NAMES if flags[k]}

    def with_(self, **changes: Any) -> "Capabilities":
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {"latent": self.latent, "decoders": list(self.decoders), "generate": list(self.generate),
                "assign": self.assign, "prior_distance": self.prior_distance, "boundary": self.boundary,
                "adversarial": self.adversarial, "report": self.report, "latent_name": self.latent_name}


NONE = Capabilities()


@dataclass(frozen=True)
class Plan:
    """What a run of a detector (with its parameters) needs from whoever runs it, so that jobs and runs never
    read a parameter by name: ``epochs`` the epochs its history reports (all phases; None for a one-step
    fit), ``device`` the device it asks for (``"auto"``, ``"cpu"``, ``"cuda:1"``; None when it has none),
    ``time_budget`` its training time limit in seconds (None: none)."""

    epochs: int | None = None
    device: str | None = None
    time_budget: float | None = None
