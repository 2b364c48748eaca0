"""The ``callpulse`` command with every service, and ``callpulse demo``'s process supervisor."""
