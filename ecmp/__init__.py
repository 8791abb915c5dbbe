"""ecmp: placeholder package; see ARCHITECTURE.md."""
