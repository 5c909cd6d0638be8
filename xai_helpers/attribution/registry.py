"""Every attribution method, one spec each: the single place that says what a method is and can do.

=====================  ======================  ===========================  =====  =========  ======  ======
name                   Captum class            layer class (latent)         delta  baselines  groups  engine
=====================  ======================  ===========================  =====  =========  ======  ======
``deepliftshap``       ``DeepLiftShap``        ``LayerDeepLiftShap``        mean   K          any     yes
``deeplift``           ``DeepLift``            ``LayerDeepLift``            yes    1          any     yes
``gradientshap``       ``GradientShap``        ``LayerGradientShap``        mean   K          any
``integratedgradients`` ``IntegratedGradients`` ``LayerIntegratedGradients`` mean   K          any
``saliency``           ``Saliency`` (abs)      ``LayerGradientXActivation``              any     yes
``inputxgradient``     ``InputXGradient``      ``LayerGradientXActivation``              any     yes
``occlusion``          ``Occlusion``                                        mean of K  any
``kernelshap``         ``KernelShap``                                       mean of K  only
``lime``               ``Lime``                                             mean of K  only
``fgsm``               ``captum.robust.FGSM``                                            any
=====================  ======================  ===========================  =====  =========  ======  ======

``delta``: the method returns a convergence delta per target (``mean``: averaged over baselines or
samples). ``groups only``: the cost grows with the number of features, so single bins are refused.
``engine``: the exact all-bins engine (:mod:`.engine`) computes it. FGSM's map is ``sign`` of the
gradient of the explained output (the step direction that lowers it; ``(x_adv - x) / eps``), and its
``sensitivity`` is the change of the explained output after a step of each ``eps`` (log10-power units).

To add a method: its runner in :mod:`.methods` and one :class:`MethodSpec` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from captum.attr import (
    DeepLift,
    DeepLiftShap,
    GradientShap,
    InputXGradient,
    IntegratedGradients,
    KernelShap,
    LayerDeepLift,
    LayerDeepLiftShap,
    LayerGradientShap,
    LayerGradientXActivation,
    LayerIntegratedGradients,
    Lime,
    Occlusion,
    Saliency,
)
from captum.robust import FGSM

from . import methods


@dataclass(frozen=True)
class MethodSpec:
    """One attribution method."""

    name: str
    captum_class: type
    run: Callable
    """Input runner (see :mod:`.methods`)."""
    layer_class: type | None = None
    run_layer: Callable | None = None
    """Latent-layer runner; ``None``: the method has no layer version."""
    gives_delta: bool = False
    needs_baselines: bool = True
    groups_only: bool = False
    engine: bool = False
    """The exact all-bins engine computes it (outputs="all_bins", features="bins")."""
    benchmarked: bool = True
    """Part of notebook 05's default comparison (a map over input bins)."""


METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        MethodSpec(
            "deepliftshap",
            DeepLiftShap,
            methods.deepliftshap,
            LayerDeepLiftShap,
            methods.layer_deepliftshap,
            gives_delta=True,
            engine=True,
        ),
        MethodSpec(
            "deeplift", DeepLift, methods.deeplift, LayerDeepLift, methods.layer_deeplift, gives_delta=True, engine=True
        ),
        MethodSpec(
            "gradientshap",
            GradientShap,
            methods.gradientshap,
            LayerGradientShap,
            methods.layer_gradientshap,
            gives_delta=True,
        ),
        MethodSpec(
            "integratedgradients",
            IntegratedGradients,
            methods.integrated_gradients,
            LayerIntegratedGradients,
            methods.layer_integrated_gradients,
            gives_delta=True,
        ),
        MethodSpec(
            "saliency",
            Saliency,
            methods.gradient,
            LayerGradientXActivation,
            methods.layer_gradient,
            needs_baselines=False,
            engine=True,
        ),
        MethodSpec(
            "inputxgradient",
            InputXGradient,
            methods.gradient,
            LayerGradientXActivation,
            methods.layer_gradient_x_activation,
            needs_baselines=False,
            engine=True,
        ),
        MethodSpec("occlusion", Occlusion, methods.occlusion),
        MethodSpec("kernelshap", KernelShap, methods.surrogate, groups_only=True),
        MethodSpec("lime", Lime, methods.surrogate, groups_only=True),
        MethodSpec("fgsm", FGSM, methods.fgsm, needs_baselines=False, benchmarked=False),
    )
}
METHOD_NAMES = tuple(METHODS)


def method_spec(method: str, grouped: bool | None = None) -> MethodSpec:
    """The spec of ``method``; ``ValueError`` for an unknown one (listing the valid ones) or, with
    ``grouped=False``, for a groups-only method asked for single bins."""
    if method not in METHODS:
        raise ValueError(f"method: unknown {method!r}; choose one of {', '.join(METHODS)}")
    spec = METHODS[method]
    if spec.groups_only and grouped is False:
        raise ValueError(
            f"method {method!r} on single bins is intractable (one feature per time-frequency bin): "
            "use features='regions'"
        )
    return spec


def names(**flags: bool) -> tuple[str, ...]:
    """Names of the methods whose spec has every given flag, e.g. ``names(engine=True)``."""
    return tuple(
        name for name, spec in METHODS.items() if all(getattr(spec, key) == value for key, value in flags.items())
    )


def layer_methods() -> tuple[str, ...]:
    """Names of the methods with a latent-layer version."""
    return tuple(name for name, spec in METHODS.items() if spec.run_layer is not None)
