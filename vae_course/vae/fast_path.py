"""What makes ``VAE.fit`` fast with no extra arguments: the three levers of ``recipes.FastTrainer`` that fit can use.

1. **Several steps per call.** ``compile()`` without ``steps_per_execution`` lets ``fit`` choose it from the data:
   ``min(steps per epoch, MAX_STEPS_PER_EXECUTION)``, so Python hands TensorFlow a whole epoch of the digits
   at once and a large data set still reports progress several times per epoch.
2. **A lean input pipeline.** An in-memory array becomes one tensor, and each batch is gathered from it by a
   shuffled batch of indices, reshuffled every epoch (Keras' own array adapter spent about 1 ms more a step).
3. **Adam in one kernel per weight.** ``keras.optimizers.Adam`` and ``AdamW`` run about ten small operations per
   weight per step; TensorFlow's ``ResourceApplyAdam`` does the same update in one. The update is Keras' exactly:
   m <- m + (1 - beta_1)(g - m), v <- v + (1 - beta_2)(g^2 - v), w <- w - lr_t m / (sqrt(v) + epsilon) with
   lr_t = lr sqrt(1 - beta_2^t) / (1 - beta_1^t), and AdamW's w <- w - lr * weight_decay * w first. Any option the
   fused kernel cannot honour (clipping, AMSGrad, EMA, gradient accumulation, loss scaling, constraints) falls
   back to the optimizer's own ``apply``.

XLA (``jit_compile``) is left to the caller: Keras' random ops (the sampling layer, dropout) compile to slow code on
CPU, and for the course's small models compilation costs more than it saves.
"""

import math

import numpy as np

MAX_STEPS_PER_EXECUTION = 32  # beyond it the gain is under 2 % on the digits; progress stays frequent


def auto_steps_per_execution(n_samples, batch_size):
    """Steps per call into the graph for ``n_samples`` in batches of ``batch_size``: one epoch, at most 32."""
    steps = max(1, math.ceil(int(n_samples) / max(1, int(batch_size))))
    return min(steps, MAX_STEPS_PER_EXECUTION)


def array_dataset(x, batch_size, shuffle=True):
    """An in-memory image array as batches: shuffled afresh each epoch (from TensorFlow's global seed), last
    batch partial, as ``fit`` does with arrays."""
    import tensorflow as tf

    images = tf.constant(np.asarray(x, dtype=np.float32))
    order = tf.data.Dataset.range(len(x))
    if shuffle:
        order = order.shuffle(len(x), reshuffle_each_iteration=True)
    return order.batch(int(batch_size)).map(lambda i: tf.gather(images, i)).prefetch(1)


def _fusable(optimizer, grads, variables):
    """True when ``ResourceApplyAdam`` computes exactly what ``optimizer.apply`` would."""
    import keras
    import tensorflow as tf

    if type(optimizer) not in (keras.optimizers.Adam, keras.optimizers.AdamW):
        return False
    if optimizer.amsgrad or optimizer.use_ema or optimizer.gradient_accumulation_steps:
        return False
    if any(getattr(optimizer, name, None) is not None
           for name in ("clipnorm", "clipvalue", "global_clipnorm", "loss_scale_factor")):
        return False
    if not all(hasattr(optimizer, name) for name in ("_momentums", "_velocities", "_get_variable_index")):
        return False  # a Keras whose optimizer keeps its slots elsewhere
    return all(isinstance(g, tf.Tensor) and v.constraint is None and v.dtype == "float32"
               and not getattr(v, "overwrite_with_gradient", False) for g, v in zip(grads, variables))


def apply_adam(optimizer, grads, variables):
    """One optimizer step: fused ``ResourceApplyAdam`` per weight where that is exact, else ``optimizer.apply``."""
    import tensorflow as tf

    grads, variables = list(grads), list(variables)
    if not optimizer.built:
        optimizer.build(variables)
    if not _fusable(optimizer, grads, variables):
        optimizer.apply(grads, variables)
        return
    lr = tf.cast(optimizer.learning_rate, tf.float32)
    if optimizer.weight_decay is not None:  # AdamW: decoupled decay before the Adam step, as Keras does
        decay = tf.cast(optimizer.weight_decay, tf.float32)
        for w in variables:
            if optimizer._use_weight_decay(w):
                w.assign(w - w * decay * lr)
    t = tf.cast(optimizer.iterations + 1, tf.float32)
    beta_1, beta_2 = float(optimizer.beta_1), float(optimizer.beta_2)
    beta1_power, beta2_power = tf.pow(beta_1, t), tf.pow(beta_2, t)  # once per step, shared by every weight
    for g, w in zip(grads, variables):
        index = optimizer._get_variable_index(w)
        tf.raw_ops.ResourceApplyAdam(
            var=w.handle, m=optimizer._momentums[index].handle, v=optimizer._velocities[index].handle,
            beta1_power=beta1_power, beta2_power=beta2_power, lr=lr, beta1=beta_1, beta2=beta_2,
            epsilon=float(optimizer.epsilon), grad=g)
    optimizer.iterations.assign_add(1)
