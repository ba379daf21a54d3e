"""Built-in method families, registered through the `bench.methods` entry-point group like any plugin."""
