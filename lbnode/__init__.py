"""lbnode: placeholder package; see ARCHITECTURE.md."""
