"""The response-only loss: the LM head applied to the response positions alone, in row chunks.

A causal LM's usual loss projects every position onto the whole vocabulary (batch x length x
vocab floats, kept for the backward pass) and then throws the prompt positions away. Here the
decoder's hidden states are gathered at the positions whose next token is a label, and the head
and the cross-entropy run on those rows only, ``chunk`` rows at a time. The head is frozen (LoRA
trains the adapters only), so its backward needs only the gradient for the hidden rows; it is
computed with the loss, chunk by chunk, so no logits outlive their chunk.
"""

from __future__ import annotations

from typing import Any

from .data import IGNORE

CHUNK = 256  # rows of logits at a time: 256 x a 49k vocabulary in fp32 is 50 MB


def response_rows(hidden: Any, labels: Any) -> tuple[Any, Any]:
    """Hidden states at the positions that predict a label, and those labels (row-major order).

    The state at position t predicts the token at t + 1.
    """
    target = labels[:, 1:]
    keep = target != IGNORE
    return hidden[:, :-1][keep], target[keep]


def _head_ce_forward(hidden: Any, weight: Any, bias: Any, targets: Any, chunk: int,
                     want_grad: bool) -> tuple[Any, Any]:
    import torch

    total = torch.zeros((), dtype=torch.float32, device=hidden.device)
    grad = torch.empty_like(hidden) if want_grad else None
    w = weight.float()
    for s in range(0, hidden.shape[0], chunk):
        h = hidden[s:s + chunk].float()
        t = targets[s:s + chunk]
        logits = h @ w.T
        if bias is not None:
            logits += bias.float()
        lse = torch.logsumexp(logits, dim=-1)
        total += (lse - logits.gather(1, t[:, None]).squeeze(1)).sum()
        if want_grad:  # d(sum CE)/d logits = softmax - onehot; d/d hidden = that @ W
            probs = logits.sub_(lse[:, None]).exp_()
            probs[torch.arange(t.shape[0], device=t.device), t] -= 1.0
            grad[s:s + chunk] = (probs @ w).to(hidden.dtype)
    return total, grad


class _HeadCrossEntropy:
    """autograd Function built lazily (torch is imported only when training)."""

    fn = None

    @classmethod
    def get(cls):  # noqa: ANN206
        if cls.fn is None:
            import torch

            class Fn(torch.autograd.Function):
                @staticmethod
                def forward(ctx, hidden, weight, bias, targets, chunk):  # noqa: ANN001, ANN205
                    total, grad = _head_ce_forward(hidden, weight, bias, targets, chunk,
                                                   ctx.needs_input_grad[0])
                    ctx.save_for_backward(grad)
                    return total

                @staticmethod
                def backward(ctx, g):  # noqa: ANN001, ANN205
                    (grad,) = ctx.saved_tensors
                    return grad * g, None, None, None, None

            cls.fn = Fn
        return cls.fn


def head_cross_entropy_sum(hidden: Any, head: Any, targets: Any, chunk: int = CHUNK) -> Any:
    """Sum over rows of cross-entropy(head(hidden_row), target), without keeping the logits.

    ``head`` is a frozen ``nn.Linear`` (weight vocab x hidden); gradients flow to ``hidden`` only.
    """
    if head.weight.requires_grad or (head.bias is not None and head.bias.requires_grad):
        raise ValueError("head_cross_entropy_sum needs a frozen output head")
    if hidden.shape[0] == 0:
        return hidden.sum() * 0.0
    return _HeadCrossEntropy.get().apply(hidden, head.weight.detach(),
                                         None if head.bias is None else head.bias.detach(),
                                         targets, chunk)


def fused_head_ok(model: Any) -> bool:
    """Whether ``model`` (a transformers causal LM, LoRA-wrapped or not) can take the fused loss:
    a decoder to call for hidden states, a plain frozen linear head, no logit scaling."""
    import torch

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    head = base.get_output_embeddings()
    decoder = base.get_decoder() if hasattr(base, "get_decoder") else None
    cfg = getattr(base, "config", None)
    scaled = any(getattr(cfg, k, None) not in (None, 1.0, 1) for k in
                 ("final_logit_softcapping", "logit_scale", "output_multiplier_scale"))
    return (isinstance(head, torch.nn.Linear) and not head.weight.requires_grad
            and decoder is not None and decoder is not base and not scaled)


def response_loss_sum(model: Any, batch: dict[str, Any], labels: Any,
                      chunk: int = CHUNK) -> tuple[Any, int]:
    """(sum of the response tokens' cross-entropy, their count) for one left- or right-padded
    batch, with the head run on the response positions only (``fused_head_ok(model)``)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    out = base.get_decoder()(**batch, use_cache=False)
    rows, targets = response_rows(out.last_hidden_state, labels)
    loss = head_cross_entropy_sum(rows, base.get_output_embeddings(), targets, chunk)
    return loss, int(targets.numel())
