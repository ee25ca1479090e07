"""Quiet TensorFlow's C++ start-up log before anything imports it.

Only TensorFlow's native log is affected (``TF_CPP_MIN_LOG_LEVEL``); Python
warnings from Keras, NumPy or our own code still reach the learner. A value
the user already set wins, so ``TF_CPP_MIN_LOG_LEVEL=0`` shows everything.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Thread pools sized to the container's CPU limit (a Binder pod has 1 CPU); also before TensorFlow loads.
from ._threads import size_tensorflow_threads

size_tensorflow_threads()
