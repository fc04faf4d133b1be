"""An example mer-bench plugin: everything it adds is found through its entry points."""
