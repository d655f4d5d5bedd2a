"""Where generation runs besides the local engine: OpenAI-compatible servers."""
