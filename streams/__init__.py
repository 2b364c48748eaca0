"""The live worker: a Faust app that folds Kafka events with the pure core of ``callpulse``."""
