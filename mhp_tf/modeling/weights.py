"""Moving trained weights between networks of the same architecture, layer by layer.

Used by training (``train.init_weights``), export (the int8 PReLU rewrite, the heatmap-head
model) and tests; it lives with the models so that training never imports from export.
"""

import tensorflow as tf


def copy_weights_by_name(source: tf.keras.Model, target: tf.keras.Model, purpose: str,
                         replaced=()) -> None:
    """Set each layer of ``target`` that has weights from ``source``'s layer of the same name.

    Layers named in ``replaced`` are skipped (their weights went into ``target``
    otherwise). Raises ValueError, naming ``purpose`` and the first offending layers, when
    a layer is missing from ``source`` or its weight shapes differ (nothing is copied
    then), and RuntimeError unless every weight of ``source`` is accounted for.
    """
    problems, pairs = [], []
    for layer in target.layers:
        if layer.name in replaced or not layer.weights:
            continue
        try:
            src = source.get_layer(layer.name)
        except ValueError:
            problems.append(f"{layer.name!r} is not in {source.name}")
            continue
        want = [tuple(w.shape) for w in layer.weights]
        have = [tuple(w.shape) for w in src.weights]
        if want != have:
            problems.append(f"{layer.name!r} has weight shapes {have} in {source.name}, "
                            f"{want} in {target.name}")
        else:
            pairs.append((layer, src))
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise ValueError(f"cannot copy the weights of {source.name} into {target.name} while "
                         f"{purpose}: {'; '.join(problems[:3])}{more}")
    copied = sum(len(source.get_layer(name).weights) for name in replaced)
    for layer, src in pairs:
        layer.set_weights(src.get_weights())
        copied += len(layer.weights)
    if copied != len(source.weights):
        raise RuntimeError(f"copied {copied} of {len(source.weights)} weights of {source.name} "
                           f"while {purpose}")
