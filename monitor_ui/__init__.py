"""The wallboard: a websocket and HTTP server (``callpulse wallboard``) and its page."""
