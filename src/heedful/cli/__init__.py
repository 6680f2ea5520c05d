"""The `heedful` command line. Admin commands call services directly, not HTTP."""
