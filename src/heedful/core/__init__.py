"""Pure helpers shared by every area. Imports nothing else from heedful."""
