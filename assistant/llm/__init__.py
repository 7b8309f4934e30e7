"""Optional answers written by a language model, every sentence checked against what it cites.

Off unless `ASSISTANT_LLM_PROVIDER` is set; the quoted (extractive) answer stays the default and
the fallback. The group owns:
- `stage.py`: the `Writer` that the answer path's `write_with_model` stage calls, and the rules for when a reply stands;
- `models.py`: settings -> a LangChain chat model (`init_chat_model`; the provider's package is
  imported only here, only when it is switched on);
- `prompt.py`: what is sent (prompts/llm_system.md, prompts/llm_question.md), personal data redacted;
- `call.py`: one call within the time limit, every failure named;
- `sentences.py`: the reply cut into sentences with their [n] markers, as it streams;
- `checks.py`: citation, facts and meaning checks, with the threshold fitted in `grounding.json`.
With the model off, the answer path imports `stage.py` and what it needs to check sentences (all
small, plain Python and numpy); no LangChain provider package, no `langchain`, no HTTP client.
"""
