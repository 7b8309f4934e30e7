"""The questions the benchmark and the load test ask: the four topics, paraphrase, lists, two
parts, and two the guidance does not answer."""

QUESTIONS = [
    "Does it cost anything to qualify onto the Dynamic Framework?",
    "whats a pdu",
    "we got knocked back trying to get on the framework, do we get told why",
    "how do i sign up to the grants portal, what are the steps",
    "what is IASME Gold",
    "how many service categories are there",
    "What is the capital of France?",
    "How much does Cyber Essentials Plus cost?",
    "cyber essentials basic vs plus, whats the difference",
    "what do i need to send in with a tender? want a checklist",
]
