"""What makes ``VAE.fit`` fast with no extra arguments: the levers of ``recipes.FastTrainer`` that fit can use.

1. **Several steps per call.** ``compile()`` without ``steps_per_execution`` lets ``fit`` choose it from the data:
   ``min(steps per epoch, MAX_STEPS_PER_EXECUTION)``, so Python hands TensorFlow a whole epoch of the digits
   at once and a large data set still reports progress several times per epoch.
2. **Images in memory stay in one graph** (``ArrayEpochs``). Keras still runs the epochs, the callbacks and the
   progress bar, over a dataset of step numbers; each call into the graph gathers the next batches from one
   tensor of the images by a matrix of indices (every image once per epoch, in a fresh order) and runs their
   training steps in a loop. Feeding the same steps through a ``tf.data`` iterator, one batch per step, took
   about twice as long per step at 28x28 (issue 16).
3. **Adam in one kernel per weight.** ``keras.optimizers.Adam`` and ``AdamW`` run about ten small operations per
   weight per step; TensorFlow's ``ResourceApplyAdam`` does the same update in one. The update is Keras' exactly:
   m <- m + (1 - beta_1)(g - m), v <- v + (1 - beta_2)(g^2 - v), w <- w - lr_t m / (sqrt(v) + epsilon) with
   lr_t = lr sqrt(1 - beta_2^t) / (1 - beta_1^t), and AdamW's w <- w - lr * weight_decay * w first. Any option the
   fused kernel cannot honour (clipping, AMSGrad, EMA, gradient accumulation, loss scaling, constraints) falls
   back to the optimizer's own ``apply``.

4. **XLA where it is repaid** (``compiles``). XLA fuses a step's many small operations and removes TensorFlow's
   per-operation cost, but compiling the loop takes seconds. ``fit`` compiles it for images of at least 16x16
   pixels when the call trains at least 2,000 steps (Fashion-MNIST for 5 epochs or more), and never for the
   digits' lessons. ``compile(jit_compile=True)`` compiles every call; Keras' ``jit_compile="auto"`` and ``False``
   leave the choice to ``fit``.
"""

import math
import weakref

import numpy as np

MAX_STEPS_PER_EXECUTION = 32  # beyond it the gain is under 2 % on the digits; progress stays frequent
XLA_MIN_PIXELS = 256  # 16x16: smaller images (the digits' 8x8) never compile
XLA_MIN_STEPS = 2000  # steps in one fit call (epochs x steps per epoch) that repay a compilation of a few seconds


def auto_steps_per_execution(n_samples, batch_size):
    """Steps per call into the graph for ``n_samples`` in batches of ``batch_size``: one epoch, at most 32."""
    steps = max(1, math.ceil(int(n_samples) / max(1, int(batch_size))))
    return min(steps, MAX_STEPS_PER_EXECUTION)


def array_dataset(x, batch_size, shuffle=True):
    """An in-memory image array as batches: shuffled afresh each epoch (from TensorFlow's global seed), last
    batch partial, as ``fit`` does with arrays."""
    import tensorflow as tf

    images = tf.constant(np.asarray(x, dtype=np.float32))
    order = _index_order(len(x), shuffle)
    return order.batch(int(batch_size)).map(lambda i: tf.gather(images, i)).prefetch(1)


def _index_order(n_samples, shuffle):
    """The indices 0..n-1 as a ``tf.data`` dataset, reshuffled each time it is iterated (TensorFlow's global seed)
    when ``shuffle``: the one order ``array_dataset`` and ``epoch_orders`` both draw from."""
    import tensorflow as tf

    order = tf.data.Dataset.range(int(n_samples))
    return order.shuffle(int(n_samples), reshuffle_each_iteration=True) if shuffle else order


def epoch_orders(n_samples, shuffle=True):
    """Every epoch's order of the images, one permutation per ``next``: ``tf.data``'s shuffle, redrawn each epoch from
    TensorFlow's global seed. These are the orders of a ``tf.data`` pipeline opened once per epoch, as ``fit``
    drew them before the step loop. Each order is drawn synchronously by an iterator used once: with an endless
    ``repeat()`` pipeline, tf.data's background threads kept working after the last epoch, and one ``fit`` call in
    two took 4 s longer at 28x28."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.inject_prefetch = False
    order = _index_order(n_samples, shuffle).batch(int(n_samples)).with_options(options)
    while True:
        yield next(iter(order)).numpy().astype(np.int32)  # the step loop's index type


def epoch_batches(order, batch_size):
    """One epoch's order cut into batches of indices; the last batch is partial, as ``fit`` does with arrays."""
    return [order[i:i + int(batch_size)] for i in range(0, len(order), int(batch_size))]


def _step_loop(model_ref, image_shape, jit_compile):
    """A graph that runs the model's ``train_step`` on ``images[rows[i]]`` for each row i, in order, and returns
    the model's metrics after the last step."""
    import tensorflow as tf

    def run(images, rows):
        model = model_ref()

        def step(i):
            model.train_step(tf.gather(images, rows[i]))
            return i + 1

        steps = tf.while_loop(lambda i: i < tf.shape(rows)[0], step, [tf.constant(0)], parallel_iterations=1)
        with tf.control_dependencies([steps]):
            return {m.name: tf.identity(m.result()) for m in model.metrics}

    signature = [tf.TensorSpec((None, *image_shape), tf.float32), tf.TensorSpec((None, None), tf.int32)]
    return tf.function(run, input_signature=signature, jit_compile=jit_compile, autograph=False)


class ArrayEpochs:
    """``fit``'s training function for images held in memory (lever 2 of the module docstring).

    Keras calls it once per ``steps_per_execution`` steps with an iterator over step numbers, which it does not
    read: it trains the next batches of its own epoch plan in one call into the graph (a last partial batch in a
    call of its own). A call of ``steps_per_execution`` full batches runs compiled with XLA when ``compiles(...)``
    says the compilation is repaid (lever 4). The graphs are kept on the model for its optimizer and image shape,
    so fitting again does not trace or compile again.
    """

    def __init__(self, model, x, batch_size, shuffle=True, epochs=1):
        import tensorflow as tf

        self.model, self.batch_size = model, int(batch_size)
        self.images = tf.constant(np.asarray(x, dtype=np.float32))
        self.steps = math.ceil(len(x) / self.batch_size)
        shape = tuple(self.images.shape[1:])
        self.run = _loop_for(model, shape, jit_compile=model.jit_compile is True)
        xla = model.jit_compile is True or compiles(shape, self.steps * max(1, int(epochs)))
        self.run_full = _loop_for(model, shape, jit_compile=True) if xla else self.run
        self._orders = epoch_orders(len(x), shuffle)
        self._planned = []

    def step_numbers(self):
        """What ``fit`` iterates over in place of the images: one element per step of an epoch."""
        import tensorflow as tf

        return tf.data.Dataset.range(self.steps)

    def __call__(self, iterator):
        if not self._planned:
            self._planned = epoch_batches(next(self._orders), self.batch_size)
        take = self._planned[:self.model.steps_per_execution]
        del self._planned[:len(take)]
        full = [rows for rows in take if len(rows) == self.batch_size]
        logs = None
        if full:
            run = self.run_full if len(full) == self.model.steps_per_execution else self.run  # one XLA shape
            logs = run(self.images, np.stack(full))
        if len(full) < len(take):
            logs = self.run(self.images, take[-1][None, :])
        return logs


def compiles(image_shape, planned_steps):
    """Lever 4, chosen by data size: XLA for images of at least ``XLA_MIN_PIXELS`` pixels in a ``fit`` of at least
    ``XLA_MIN_STEPS`` steps. At 28x28 compiling takes about 3-4 s and then saves about a third of each step, so a
    Fashion-MNIST run of the textbook's length (25 epochs, 10,750 steps) gains; the digits' lessons never compile."""
    return math.prod(image_shape) >= XLA_MIN_PIXELS and int(planned_steps) >= XLA_MIN_STEPS


_LOOPS = weakref.WeakKeyDictionary()  # model -> {(optimizer id, image shape, jit): (optimizer, step loop)}, for
# the model's current optimizer only


def _loop_for(model, image_shape, jit_compile=False):
    """The model's step loop for its optimizer, this image shape and ``jit_compile``, traced once and kept while
    the model lives (with its optimizer, so that the id in the key stays that optimizer's)."""
    key = (id(model.optimizer), tuple(image_shape), bool(jit_compile))
    loops = _LOOPS.setdefault(model, {})
    for stale in [k for k, (optimizer, _) in loops.items() if optimizer is not model.optimizer]:
        del loops[stale]  # traced for an optimizer compile() has replaced: it would update that one's slots
    if key not in loops:
        loops[key] = (model.optimizer, _step_loop(weakref.ref(model), key[1], jit_compile=key[2]))
    return loops[key][1]


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
