"""The dashboard's routers: one module per page family (runs, run, compare, research, paper)."""
