"""The one prompt renderer: what a model is asked for a suite item, at evaluation and in training.

A suite's template renders an item's text. A plain-template suite sends that text as it is; a
chat-template suite (``chat_template: true``) and a chat item (``messages``, no prompt) send chat
messages, with the suite's ``system`` message first, rendered by the tokenizer's chat template.
Evaluation (``workbench.run.runner``) and the training examples built from suite items
(``workbench.train.examples``, then the trainer) all go through here, so a model is trained on exactly
the prompt text it is evaluated on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .generation import Prompt, render_chat

if TYPE_CHECKING:
    from .suite_schema import Item
    from .suites import Suite


def item_prompt(suite: Suite, item: Item) -> Prompt:
    """What to ask for ``item``: the rendered text, or chat messages (system message first)."""
    text = suite.render(item)
    if text is not None and not suite.spec.chat_template:
        return text
    msgs = [dict(m) for m in item.messages or []] if text is None else [
        {"role": "user", "content": text}]
    return with_system(msgs, suite.spec.system)


def with_system(messages: list[dict[str, str]], system: str | None) -> list[dict[str, str]]:
    """``messages`` with ``system`` as the first message, unless they hold a system message."""
    if system is not None and not any(m.get("role") == "system" for m in messages):
        return [{"role": "system", "content": system}, *messages]
    return messages


def prompt_text(tokenizer: Any, prompt: Prompt) -> str:
    """The text the model reads for ``prompt``: a text verbatim, chat messages through the
    tokenizer's chat template, ready for the reply."""
    return prompt if isinstance(prompt, str) else render_chat(tokenizer, prompt)


def prompt_for(suite: Suite, item: Item, tokenizer: Any) -> tuple[Prompt, str]:
    """(what to generate from, the rendered prompt text) for one item."""
    prompt = item_prompt(suite, item)
    return prompt, prompt_text(tokenizer, prompt)
