"""Protocol YAML files shipped with bench (one per protocol; see bench.protocols)."""
