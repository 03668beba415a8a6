"""pixelbuild: a declarative, incremental build system for AI-generated pixel art."""

__version__ = "0.1.0"
