"""Model signals turned into WebSocket events (see the real-time issue)."""
