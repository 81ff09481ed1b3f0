"""``ttorch.distributed.algorithms.model_averaging``: periodic parameter averaging across ranks (post-local
SGD's second half): ``averagers.PeriodicModelAverager`` over ``utils.average_parameters``."""
