"""Write tests/data/tiny_checkpoint/: a TensorFlow V1-Saver checkpoint laid out as musicnn's are.

    TF_USE_LEGACY_KERAS=1 <tensorflow-cpu 2.21 venv>/bin/python tests/data/make_tiny_checkpoint.py

The variables hold known values, so that tests check the TensorFlow-free reader against them.
"""

import os

import numpy as np
import tensorflow as tf

tf.compat.v1.disable_eager_execution()
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny_checkpoint")
with tf.compat.v1.Session() as sess:
    tf.compat.v1.get_variable(
        "conv2d/kernel", initializer=np.arange(24, dtype=np.float32).reshape(2, 3, 1, 4)
    )
    tf.compat.v1.get_variable(
        "conv2d/bias", initializer=np.array([0.5, -1.5, 2.25, 3.0], np.float32)
    )
    tf.compat.v1.get_variable("batch_normalization/moving_variance", initializer=np.float32([1e-3]))
    tf.compat.v1.get_variable("step", initializer=np.int64(7))
    tf.compat.v1.get_variable("conv2d/kernel/Adam", initializer=np.zeros((2, 3, 1, 4), np.float32))
    sess.run(tf.compat.v1.global_variables_initializer())
    tf.compat.v1.train.Saver().save(sess, out + "/")
