"""What every builder shares: argument checks, input + preprocessing, the classifier head, the Model."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import keras
from keras import layers

from keras_mobilenets import blocks
from keras_mobilenets.layers import BatchNormalization, ChannelReplicate, Reshape, WholeMapAveragePooling2D, fused_activation

# Per-channel (mean, std) in [0, 1] units for the normalisations the write-ups use.
NORMALISATIONS = {
    "imagenet": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
PREPROCESSING = ("-1_1", "0_1") + tuple(NORMALISATIONS)
POOLINGS = (None, "avg", "max")


@dataclass(frozen=True)
class Head:
    """Classifier head, as data.

    Attributes:
        conv: width of the 1x1 conv + BN + act before pooling (kept when ``include_top=False``, as in
            keras.applications V2/V3), or None.
        tile: channel-replication ratio before pooling (write-up 001's cheap last stage), or None.
        tile_act: whether the replicated map goes through ``act``.
        fixed_pool: pool with an ``AveragePooling2D`` over the whole map (a port of ``F.avg_pool2d``)
            instead of ``GlobalAveragePooling2D`` (``nn.AdaptiveAvgPool2d``); same numbers, different
            FLOP conventions.
        dense: width of a pre-logits Dense (+ act) after pooling, or None.
        dense_bias: bias of that Dense.
        dense_tile: channel-replication ratio after pooling instead of a pre-logits Dense (+ act).
        act: activation of the head.
    """

    conv: int | None = None
    tile: int | None = None
    tile_act: bool = True
    fixed_pool: bool = False
    dense: int | None = None
    dense_bias: bool = True
    dense_tile: int | None = None
    act: str | None = None


def check_common(name, alpha=1.0, include_top=True, classes=1000, pooling=None, weights=None,
                 classifier_activation="softmax", dropout_rate=0.0, input_shape=None, min_size=32):
    """Validate keras.applications-style arguments; raise ValueError naming the argument."""
    if weights is not None:
        raise ValueError(
            f"{name}: `weights={weights!r}` is not downloadable here (no network). Build with weights=None and "
            "load a local file with `model.load_weights(path)` or `keras.saving.load_model(path)`; trained "
            "models in saved_models/ load with `keras_mobilenets.get_model(name, weights='cifar10')`."
        )
    if not isinstance(alpha, (int, float)) or alpha <= 0:
        raise ValueError(f"{name}: `alpha` must be a number > 0, got {alpha!r}.")
    if pooling not in POOLINGS:
        raise ValueError(f"{name}: `pooling` must be one of {POOLINGS}, got {pooling!r}.")
    if include_top and (not isinstance(classes, int) or isinstance(classes, bool) or classes < 1):
        raise ValueError(f"{name}: `classes` must be a positive int when include_top=True, got {classes!r}.")
    if not 0.0 <= float(dropout_rate) < 1.0:
        raise ValueError(f"{name}: `dropout_rate` must be in [0, 1), got {dropout_rate!r}.")
    if classifier_activation is not None and not isinstance(classifier_activation, str) and not callable(
        classifier_activation
    ):
        raise ValueError(f"{name}: `classifier_activation` must be None, a name or a callable.")
    if input_shape is not None:
        if len(input_shape) != 3:
            raise ValueError(f"{name}: `input_shape` must be (height, width, channels), got {input_shape!r}.")
        h, w, c = input_shape
        if c is None or c < 1:
            raise ValueError(f"{name}: `input_shape` channels must be >= 1, got {input_shape!r}.")
        for side in (h, w):
            if side is not None and side < min_size:
                raise ValueError(
                    f"{name}: `input_shape` {tuple(input_shape)} is too small for the network's total stride: "
                    f"height and width must be >= {min_size}."
                )


def make_input(input_shape, default_shape, input_tensor=None, include_top=True, name="input"):
    """The model input; like keras.applications, a headless model without `input_shape` takes any H x W."""
    if input_shape is None and not include_top:
        default_shape = (None, None, default_shape[-1])
    if input_tensor is not None:
        if not keras.backend.is_keras_tensor(input_tensor):
            return layers.Input(tensor=input_tensor, name=name)
        return input_tensor
    return layers.Input(shape=tuple(input_shape or default_shape), name=name)


def preprocess(x, mode):
    """Map raw pixels in [0, 255] to the range the network was trained on (no parameters)."""
    if mode is None:
        return x
    if mode == "-1_1":
        return layers.Rescaling(1.0 / 127.5, offset=-1.0, name="rescale")(x)
    if mode == "0_1":
        return layers.Rescaling(1.0 / 255.0, name="rescale")(x)
    if mode in NORMALISATIONS:
        mean, std = NORMALISATIONS[mode]
        c = x.shape[-1]
        if c != 3:  # grey inputs: use the channel-mean statistics
            mean, std = (sum(mean) / 3,) * c, (sum(std) / 3,) * c
        return layers.Normalization(
            mean=[255.0 * m for m in mean], variance=[(255.0 * s) ** 2 for s in std], name="normalize"
        )(x)
    raise ValueError(f"`preprocessing` must be one of {PREPROCESSING} or None, got {mode!r}.")


def head_features(x, head: Head, style):
    """The part of the head before pooling (kept when include_top=False)."""
    if head.conv:
        x = blocks.conv_bn_act(x, head.conv, 1, 1, head.act, style, "head_conv", "head_bn")
    if head.tile:
        if head.tile_act:  # act(tile(x)) == tile(act(x)), on fewer channels (see blocks.inverted_residual)
            x = blocks.activation(x, head.act, "head_tile_act")
        x = ChannelReplicate(ratio=head.tile, name="head_tile")(x)
    return x


def top(x, head: Head, style, include_top, classes, pooling, dropout_rate, classifier_activation):
    """Pooling + classifier (include_top) or the keras.applications `pooling` option."""
    if not include_top:
        if pooling == "avg":
            return layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if pooling == "max":
            return layers.GlobalMaxPooling2D(name="max_pool")(x)
        return x
    if head.fixed_pool and x.shape[1] is not None and x.shape[2] is not None:
        x = WholeMapAveragePooling2D(pool_size=(x.shape[1], x.shape[2]), name="avg_pool")(x)
        x = Reshape((x.shape[1] * x.shape[2] * x.shape[3],), name="flatten")(x)  # static (N, -1); layers.Reshape
    else:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if head.dense:
        x = blocks.dense(x, head.dense, style, "head_dense", use_bias=head.dense_bias)
        x = blocks.activation(x, head.act, "head_dense_act")
    if head.dense_tile:
        x = blocks.activation(x, head.act, "head_dense_act")
        x = ChannelReplicate(ratio=head.dense_tile, name="head_dense_tile")(x)
    if dropout_rate:
        x = layers.Dropout(dropout_rate, name="dropout")(x)
    return blocks.dense(x, classes, style, "predictions", act=classifier_activation)


def _global_call_hooks_active() -> bool:
    """Whether anything outside the layers would change what Keras' per-layer ``__call__`` does."""
    if keras.distribution.distribution() is not None:
        return True
    from keras.src.backend import get_autocast_scope  # noqa: PLC0415  (no public accessor)
    from torch.nn.modules import module  # noqa: PLC0415

    return get_autocast_scope() is not None or bool(
        module._global_forward_hooks or module._global_forward_pre_hooks  # noqa: SLF001
    )


def _plain_layer(layer) -> bool:
    """Whether ``layer.__call__`` would only call ``layer.call`` (no autocast, remat, quantisation, activity
    regulariser or torch hook to honour)."""
    return (
        layer.built
        and layer.compute_dtype == layer.variable_dtype
        and not getattr(layer, "_remat_mode", None)
        and getattr(layer, "quantization_mode", None) is None
        and layer.activity_regularizer is None
        and not (layer._forward_hooks or layer._forward_pre_hooks)  # noqa: SLF001
    )


def _plain_jax_layer(layer) -> bool:
    """Whether ``layer.__call__`` would only call ``layer.call`` on JAX (no autocast, remat, quantisation or
    activity regulariser to honour): what lets a BatchNorm -> activation pair be called past ``__call__``."""
    return (layer.built and layer.compute_dtype == layer.variable_dtype and not getattr(layer, "_remat_mode", None)
            and getattr(layer, "quantization_mode", None) is None and layer.activity_regularizer is None)


def _node_arguments(arguments, values):
    """(args, kwargs) of a plan node from the tensors computed so far (``values``: tensor id -> value)."""
    if isinstance(arguments, tuple):  # (positional input ids -- an id or a list of ids each --, kwargs)
        ids, kw = arguments
        return [values[i] if isinstance(i, int) else [values[j] for j in i] for i in ids], dict(kw)
    return arguments.fill_in(values)


def _store(values, outputs, result):
    """Record a node's result under its output tensor ids."""
    if len(outputs) == 1:
        values[outputs[0]] = result
    else:
        values.update(zip(outputs, keras.tree.flatten(result)))


def _argument_ids(arguments):
    """A node's arguments as (positional input ids, constant kwargs) when every positional argument is a KerasTensor
    or a list of them and no keyword argument holds one (what the builders make: ``layer(x)``, ``Add()([a, b])``,
    ``mask=None``), else None (``SymbolicArguments.fill_in`` handles it)."""
    ids = []
    for arg in arguments.args:
        if isinstance(arg, keras.KerasTensor):
            ids.append(id(arg))
        elif isinstance(arg, list) and arg and all(isinstance(a, keras.KerasTensor) for a in arg):
            ids.append([id(a) for a in arg])
        else:
            return None
    if any(isinstance(v, keras.KerasTensor) for v in keras.tree.flatten(arguments.kwargs)):
        return None
    return tuple(ids), dict(arguments.kwargs)


@keras.saving.register_keras_serializable(package="keras_mobilenets")
class MobileNetModel(keras.Model):
    """The functional model every builder returns; on the PyTorch backend its eager call is leaner.

    TensorFlow and JAX trace the forward pass once per compiled step, so Keras' per-layer ``__call__``
    bookkeeping (argument conversion, call spec, input checks, name scope, training resolution, mask
    propagation) costs nothing per step there. PyTorch runs eagerly and pays it on every layer of every step:
    about 14 of the 32 ms of a width-0.1 V1 forward at batch 128. When none of that bookkeeping applies
    (float32 policy, no masks, remat, quantisation, activity regularisers, distribution or torch hooks),
    ``call`` walks the graph itself and calls each layer's ``call`` with the resolved ``training``; otherwise,
    and on the other backends, it is ``Functional.call``. Same numbers (tests/test_models.py checks the
    outputs, the gradients and BatchNorm's moving statistics against ``Functional.call``).
    """

    def call(self, inputs, training=None, mask=None, **kwargs):
        backend = keras.backend.backend()
        if (mask is None and not kwargs and backend == "torch" and not _global_call_hooks_active()
                and all(_plain_layer(layer) for layer, *_ in self._direct_plan())):
            return self.call_direct(inputs, training)
        if (mask is None and not kwargs and backend == "jax" and training is True and self._activation_pairs()
                and keras.distribution.distribution() is None):
            return self._call_jax_training(inputs)
        return super().call(inputs, training=training, mask=mask, **kwargs)

    def _activation_pairs(self):
        """{plan index of a BatchNormalization: plan index of the ReLU / ReLU6 / HardSwish that is the only reader of
        its output}: the pairs that JAX training runs as one native pass each way
        (``BatchNormalization.call_with_activation``)."""
        if getattr(self, "_direct_pairs", None) is None:
            plan = self._direct_plan()
            readers = {}
            for index, (_, arguments, *_rest) in enumerate(plan):
                if isinstance(arguments, tuple):
                    ids = [j for i in arguments[0] for j in (i if isinstance(i, list) else [i])]
                else:  # (SymbolicArguments: every KerasTensor it holds, keyword arguments included)
                    ids = [id(t) for t in arguments.keras_tensors]
                for i in ids:
                    readers.setdefault(i, []).append(index)
            outputs = {id(x) for x in self.outputs}
            pairs = {}
            for index, (layer, _, out_ids, *_rest) in enumerate(plan):
                if not isinstance(layer, BatchNormalization) or len(out_ids) != 1 or out_ids[0] in outputs:
                    continue
                reader = readers.get(out_ids[0], [])
                if len(reader) == 1 and fused_activation(plan[reader[0]][0]) is not None:
                    arguments = plan[reader[0]][1]
                    if isinstance(arguments, tuple) and arguments[0] == (out_ids[0],) and not arguments[1]:
                        pairs[index] = reader[0]
            self._direct_pairs = SimpleNamespace(pairs=pairs)
        return self._direct_pairs.pairs

    def _call_jax_training(self, inputs):
        """``Functional.call(inputs, training=True)`` on JAX with each BatchNorm -> activation pair of
        :meth:`_activation_pairs` as one native batch norm + activation (forward and backward one pass each, instead
        of a batch norm pass and an activation pass that XLA cannot fuse into the custom call). Every other layer is
        called as ``Functional`` calls it, and so is a pair whose layers do not take the native path
        (``call_with_activation`` returns None). Same outputs, gradients and moving statistics
        (tests/test_native.py)."""
        plan, pairs = self._direct_plan(), self._activation_pairs()
        skip = set()
        values = dict(zip(map(id, self.inputs), self._standardize_inputs(inputs)))
        for index, (layer, arguments, outputs, takes_training, _) in enumerate(plan):
            if index in skip:
                continue
            args, kw = _node_arguments(arguments, values)
            if takes_training:
                kw["training"] = True
            result = None
            if index in pairs:
                activation, _, activation_outputs, *_ = plan[pairs[index]]
                plain = _plain_jax_layer(layer) and _plain_jax_layer(activation)
                result = layer.call_with_activation(args[0], activation, training=True) if plain else None
                if result is not None:
                    skip.add(pairs[index])
                    outputs = activation_outputs
            if result is None:
                result = layer(*args, **kw)
            _store(values, outputs, result)
        return keras.tree.pack_sequence_as(self._outputs_struct, [values[id(x)] for x in self.outputs])

    def _post_build(self):
        """torch: ``train_on_batch`` and ``test_on_batch`` end their model check with ``_post_build``, which
        registers every variable as a torch parameter again (a new ``ParameterDict``: 0.87 ms per call for a
        width-0.1 V1, whose training step is ~35 ms). Skipped when the model's variables, and the tensors they hold,
        are the ones registered last time (an identity check, 0.10 ms); anything else (new variables, a replaced
        tensor, a changed registration) registers again."""
        if keras.backend.backend() != "torch":
            return super()._post_build()
        key = tuple(id(getattr(v, "_value", v)) for v in self.variables)
        tracked = getattr(self, "_torch_params", None)
        if tracked is not None and len(tracked) == len(key) and self.__dict__.get("_registered_key") == key:
            return None
        super()._post_build()
        self.__dict__["_registered_key"] = key  # past Keras' / torch's attribute tracking: a plain record
        return None

    def call_direct(self, inputs, training=None):
        """The graph walked with each layer's ``call`` (what ``call`` uses on torch when nothing else applies)."""
        values = dict(zip(map(id, self.inputs), self._standardize_inputs(inputs)))
        for layer, arguments, outputs, takes_training, done in self._direct_plan():
            args, kw = _node_arguments(arguments, values)
            if takes_training and training is not None:
                kw["training"] = training
            result = layer.call(*args, **kw)
            _store(values, outputs, result)
            for i in done:  # tensors no later layer reads: freed now, as PyTorch's own forward would (see below)
                del values[i]
        return keras.tree.pack_sequence_as(self._outputs_struct, [values[id(x)] for x in self.outputs])

    def _direct_plan(self):
        """(layer, node arguments, output ids, takes ``training``, ids of the tensors this node is the last reader
        of) for every non-input node, in graph order. ``call_direct`` drops the last-read tensors, so that a tensor
        no later layer reads is freed as the walk goes (unless autograd saved it) instead of living until the end of
        the pass. CustomMobileNet, batch 500, torch: peak RSS growth over three no_grad
        forward passes 3,606 -> 671 MiB (plain PyTorch 345 MiB); peak RSS after two ``train_on_batch`` steps
        5,248 -> 4,051 MiB."""
        if getattr(self, "_direct", None) is None:
            plan, reads = [], []
            for depth in sorted(self._nodes_by_depth, reverse=True):
                for node in self._nodes_by_depth[depth]:
                    if node.operation is None or node.is_input:
                        continue
                    layer, arguments = node.operation, node.arguments
                    plan.append((layer, _argument_ids(arguments) or arguments, [id(x) for x in node.outputs],
                                 getattr(layer, "_call_has_training_arg", False), []))
                    reads.append({id(t) for t in node.input_tensors})
            last = {}
            for index, ids in enumerate(reads):
                last.update(dict.fromkeys(ids, index))
            for x in self.outputs:
                last.pop(id(x), None)
            for i, index in last.items():
                plan[index][-1].append(i)
            self._direct = SimpleNamespace(plan=plan)  # a plain holder: Keras does not track what is inside
        return self._direct.plan


def finish(inputs, outputs, name):
    return MobileNetModel(inputs, outputs, name=name)
