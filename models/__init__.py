"""Machine-learning models of the platform: code, training and model cards."""
