"""Event sources: the simulator and the writers that put canonical events on Kafka or in files."""
