"""The street-camera frame detector: training (torch, its own environment), evaluation and
the onnxruntime runtime the Spark job and the ``civiclake frames`` commands use."""
