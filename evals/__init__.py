"""Evaluation of the assistant against a fixed Q&A set, beside a naive tutorial-style peer."""
