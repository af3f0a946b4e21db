"""Networks. ``build_model(spec, info)`` looks a model up by name in ``registry.MODELS``.

Every model is a :class:`Classifier`: a ``body`` that maps inputs to features and a ``head`` that
maps features to logits over the scenario's output space, so methods can reach the features
(LwF, DER, prototypes) and the head (multi-head) by name.
"""

from __future__ import annotations

from .classifier import Classifier, MultiHead, build_model

__all__ = ["Classifier", "MultiHead", "build_model"]
