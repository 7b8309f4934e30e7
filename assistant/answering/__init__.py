"""The answer path: from a question to a checked, cited answer (or a plain decline), stage by stage."""
