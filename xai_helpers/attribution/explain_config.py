"""What :func:`~xai_helpers.attribution.explain.explain_file` explains and how: :class:`ExplainConfig`
(method, explained outputs, input features, baselines, segment, DeepLIFT rule, backend, store), checked
on creation; every field is stored with the result."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Sequence

from ..models.base import check_target
from ..models.registry import DEFAULT_MODEL, check_model_name, model_class, model_sample_rate, model_tag
from .deeplift import PRODUCT_RULES
from .engine import DEEPLIFT_RULES
from .methods import DEFAULT_FGSM_EPS, MethodOptions
from .registry import method_spec, names
from .regions import Region, parse_region
from .targets import OUTPUTS

FEATURES = ("bins", "regions", "latent")
BACKENDS = ("auto", "engine", "captum")
STORES = ("auto", "maps", "full")
DEEPLIFT_METHODS = ("deeplift", "deepliftshap")
"""The methods that ``deeplift_rule`` applies to."""
SAMPLED_METHODS = ("gradientshap", "integratedgradients", "kernelshap", "lime")
"""The methods that ``n_samples`` applies to (samples, steps or perturbations)."""
RESULT_NEUTRAL = ("frames_per_chunk",)
"""Fields that change only how the result is computed (memory per step), never the result."""


@dataclass
class ExplainConfig:
    """What to explain and how; every field is stored with the result."""

    method: str = "deepliftshap"
    target: str = "mask"
    """Explained quantity: ``"mask"`` (the gain on the magnitude), ``"logit"`` (before the sigmoid, where the model
    has one) or ``"output"`` (log10 power of the enhanced spectrum); see :mod:`xai_helpers.models.base`."""
    outputs: str = "all_bins"
    """``"all_bins"`` (the 4-D case), ``"bin"`` (``output_bin``) or ``"regions"`` (``output_regions``)."""
    output_bin: tuple[float, float] | None = None
    """(frequency Hz, time s from the segment start) of the single explained bin (nearest bin)."""
    output_regions: Sequence[Region | str] = ()
    """Explained regions ``(f_lo_hz, f_hi_hz, t_lo_s, t_hi_s)``: the sum of the output over each."""
    features: str = "bins"
    """Input features: ``"bins"``, ``"regions"`` (grid of ``feature_band_hz`` x ``feature_span_s``) or ``"latent"``."""
    feature_band_hz: float = 1000.0
    feature_span_s: float = 0.1
    latent_layers: Sequence[str] | None = None
    """Latent layers explained with ``features="latent"`` (``None``: all of the model's)."""
    baseline: str = "zero"
    n_baselines: int = 1
    segment_start_s: float = 0.0
    segment_duration_s: float | None = None
    """``None``: to the end of the file."""
    n_samples: int = 25
    fgsm_eps: Sequence[float] = DEFAULT_FGSM_EPS
    seed: int = 0
    deeplift_rule: str = "complete"
    """DeepLift / DeepLiftShap only: ``"complete"`` (DeepLIFT's rules on every op, recurrent gates included; the
    attributions add up to the output's change; engine only) or ``"captum"`` (Captum's DeepLift: plain gradients
    through the GRUs and LSTMs)."""
    product_rule: str = "shapley"
    """The complete rule's treatment of a product of two varying tensors (:data:`~.deeplift.PRODUCT_RULES`):
    ``"shapley"`` (split between both factors; adds up), ``"gate_as_weight"`` (a sigmoid gate's factor is a weight,
    the whole change goes to the signal; adds up), ``"gradient"`` (plain gradient per factor; does not add up)."""
    backend: str = "auto"
    """``"engine"`` (fast, exact; deeplift, deepliftshap, saliency, inputxgradient on input bins or regions,
    every output layout), ``"captum"``, or ``"auto"`` (the engine where it applies)."""
    frames_per_chunk: int = 8
    dtype: str = "float32"
    sample_rate: int = 16000
    """The model's sample rate, Hz (a rate the model does not run at becomes its default, with a warning)."""
    model: str = DEFAULT_MODEL
    """A registered model (``"nsnet2"``, ``"dtln"``, ``"gtcrn"``) or an import path ``"module:function"``."""
    store: str = "auto"
    """``"maps"``: only the influence maps of all output bins (group ``maps/``, size linear in duration),
    ``"full"``: the attribution tensor (with the maps too for all bins), ``"auto"``: maps for a whole file
    (``segment_duration_s=None``) explained on all bins over input bins, full otherwise."""

    def __post_init__(self) -> None:
        check_model_name(self.model)
        self.sample_rate = model_sample_rate(self.model, self.sample_rate)
        cls = model_class(self.model)
        if self.latent_layers is None and cls is not None:
            self.latent_layers = cls.latent_layers_of(self.target)
        elif self.latent_layers is not None:
            self.latent_layers = tuple(self.latent_layers)
            if cls is not None:
                unknown = sorted(set(self.latent_layers) - set(cls.latent_layers))
                if unknown:
                    raise ValueError(
                        f"latent_layers: {unknown} are not layers of {self.model}; "
                        f"choose from {', '.join(cls.latent_layers)}"
                    )
        if self.outputs not in OUTPUTS:
            raise ValueError(f"outputs: unknown {self.outputs!r}; choose one of {', '.join(OUTPUTS)}")
        if self.features not in FEATURES:
            raise ValueError(f"features: unknown {self.features!r}; choose one of {', '.join(FEATURES)}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend: unknown {self.backend!r}; choose one of {', '.join(BACKENDS)}")
        if self.deeplift_rule not in DEEPLIFT_RULES:
            raise ValueError(
                f"deeplift_rule: unknown {self.deeplift_rule!r}; choose one of {', '.join(DEEPLIFT_RULES)}"
            )
        if self.product_rule not in PRODUCT_RULES:
            raise ValueError(f"product_rule: unknown {self.product_rule!r}; choose one of {', '.join(PRODUCT_RULES)}")
        check_target(self.target)
        if cls is not None and self.target not in cls.targets:
            raise ValueError(f"target: {self.model} has no {self.target!r}; it has {', '.join(cls.targets)}")
        if self.store not in STORES:
            raise ValueError(f"store: unknown {self.store!r}; choose one of {', '.join(STORES)}")
        if self.store == "maps" and not self.has_maps():
            raise ValueError(
                f"store='maps' needs outputs='all_bins' and features='bins' (the maps of every output bin); "
                f"this is outputs={self.outputs}, features={self.features}: use store='full'"
            )
        if self.outputs == "bin" and self.output_bin is None:
            raise ValueError("outputs='bin' needs output_bin = (frequency_hz, time_s)")
        if self.outputs == "regions" and not self.output_regions:
            raise ValueError("outputs='regions' needs output_regions, e.g. ['0-1000Hz@0.05-0.15s']")
        if isinstance(self.output_regions, str):  # one region written as a bare string
            self.output_regions = (self.output_regions,)
        self.output_regions = tuple(parse_region(r, "output_regions") for r in self.output_regions)
        if self.features != "latent":
            method_spec(self.method, grouped=self.features == "regions")
        if self.backend == "engine" and not self.engine_applies():
            raise ValueError(
                f"backend='engine' covers methods {names(engine=True)} on features='bins' or 'regions'; "
                f"this is {self.method}, features={self.features}"
            )
        if self.product_rule != "shapley" and not self.complete_rule():
            raise ValueError(
                f"product_rule={self.product_rule!r} is a choice of DeepLIFT's complete rule; it needs "
                "method deeplift or deepliftshap with deeplift_rule='complete'"
            )
        if self.complete_rule():
            if self.features == "latent":
                raise ValueError(
                    "deeplift_rule='complete' is computed by the engine over input bins or regions; features='latent' "
                    "goes through Captum's LayerDeepLift, which only has Captum's rule: set deeplift_rule='captum' "
                    "(or use a method without a rule, e.g. saliency)"
                )
            if self.backend == "captum":
                raise ValueError(
                    "backend='captum' only implements deeplift_rule='captum' (Captum's DeepLift gives the GRUs plain "
                    "gradients); use backend='auto' or 'engine' for deeplift_rule='complete', "
                    "or set deeplift_rule='captum'"
                )

    @property
    def applied_deeplift_rule(self) -> str | None:
        """``deeplift_rule`` for DeepLift / DeepLiftShap, ``None`` for the methods it does not apply to."""
        return self.deeplift_rule if self.method in DEEPLIFT_METHODS else None

    def complete_rule(self) -> bool:
        """True for DeepLift / DeepLiftShap with ``deeplift_rule="complete"``."""
        return self.applied_deeplift_rule == "complete"

    def engine_applies(self) -> bool:
        """True when the engine can compute this configuration (its methods over input bins or regions; any model:
        :mod:`.fast_engine`)."""
        return self.method in names(engine=True) and self.features in ("bins", "regions")

    def uses_engine(self) -> bool:
        """True when the engine computes this configuration (``backend`` ``"auto"`` or ``"engine"`` where it
        applies)."""
        return self.engine_applies() and self.backend in ("auto", "engine")

    def has_maps(self) -> bool:
        """True when the influence maps apply: every output bin over input bins."""
        return self.outputs == "all_bins" and self.features == "bins"

    def store_mode(self) -> str:
        """``"maps"`` or ``"full"``: :attr:`store` with ``"auto"`` resolved."""
        if self.store == "auto":
            return "maps" if self.segment_duration_s is None and self.has_maps() else "full"
        return self.store

    def file_tag(self) -> str:
        """Short file-name-safe description of the configuration; DeepLift / DeepLiftShap carry their rule
        after the method (``deeplift_complete_...``), so files of both rules can share a folder."""
        segment = (
            f"{self.segment_start_s:g}s+{'all' if self.segment_duration_s is None else f'{self.segment_duration_s:g}s'}"
        )
        rule = [self.applied_deeplift_rule] if self.applied_deeplift_rule else []
        if self.product_rule != "shapley":
            rule = [f"{rule[0]}-{self.product_rule}"]
        parts = [
            self.method,
            *rule,
            self.target,
            self.outputs,
            self.features,
            f"{self.baseline}{self.n_baselines}",
            segment,
        ]
        if self.seed:
            parts.append(f"seed{self.seed}")
        if self.sample_rate != 16000:
            parts.append(f"{self.sample_rate // 1000}kHz")
        if self.model != DEFAULT_MODEL:
            parts.append(model_tag(self.model))
        if self.store_mode() == "maps":
            parts.append("maps")
        return "_".join(parts)

    def request(self) -> dict[str, object]:
        """Every setting that changes the result, JSON-ready (lists, floats, strings): stored with the result as
        the attribute ``request`` and compared field by field before a stored file is reused.

        ``backend`` and ``store`` appear resolved (``"engine"``/``"captum"``, ``"maps"``/``"full"``); left out are
        :data:`RESULT_NEUTRAL` and the settings that do not apply to this configuration (``output_bin`` unless
        ``outputs="bin"``, ``output_regions`` unless ``"regions"``, ``feature_band_hz`` / ``feature_span_s``
        unless ``features="regions"``, ``latent_layers`` unless ``"latent"``, ``n_samples`` outside
        :data:`SAMPLED_METHODS`, ``fgsm_eps`` unless fgsm, ``deeplift_rule`` outside :data:`DEEPLIFT_METHODS`)."""
        fields = {
            field.name: getattr(self, field.name)
            for field in dataclasses.fields(self)
            if field.name not in RESULT_NEUTRAL
        }
        fields.update(backend="engine" if self.uses_engine() else "captum", store=self.store_mode())
        applies = {
            "output_bin": self.outputs == "bin",
            "output_regions": self.outputs == "regions",
            "feature_band_hz": self.features == "regions",
            "feature_span_s": self.features == "regions",
            "latent_layers": self.features == "latent",
            "n_samples": self.method in SAMPLED_METHODS,
            "fgsm_eps": self.method == "fgsm",
            "deeplift_rule": self.applied_deeplift_rule is not None,
            "product_rule": self.product_rule != "shapley",
        }
        for name, used in applies.items():
            if not used:
                del fields[name]
        return json.loads(json.dumps(fields, default=list))

    def method_options(self) -> MethodOptions:
        """The method settings of this configuration."""
        return MethodOptions(n_samples=self.n_samples, fgsm_eps=tuple(self.fgsm_eps), seed=self.seed)
