"""rib: placeholder package; see ARCHITECTURE.md."""
